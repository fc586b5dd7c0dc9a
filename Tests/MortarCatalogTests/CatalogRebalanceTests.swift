import Foundation
import MortarCatalog
import MortarCore
import MortarVolumeSpec
import Testing

/// `volume rebalance` in the catalog: what start, stop and a runner's reports do to the record, and what is refused.
@Suite struct CatalogRebalanceTests {
    let rules = CatalogTests()

    func startedVolume() throws -> Catalog {
        var catalog = try rules.catalog(peers: ["node2"])
        _ = try catalog.apply(try rules.create("vol", ["node1:/b/0", "node2:/b/1"]))
        _ = try catalog.apply(.startVolume(name: "vol"))
        return catalog
    }

    func record(_ catalog: Catalog) throws -> RebalanceRecord {
        try #require(catalog.volume(named: "vol")?.rebalance)
    }

    func progress(_ cursor: [String], scanned: UInt64) -> RebalanceProgress {
        var counters = RebalanceCounters()
        counters.scannedFiles = scanned
        return RebalanceProgress(cursor: cursor, counters: counters)
    }

    @Test func startStopResumeAndComplete() throws {
        var catalog = try startedVolume()
        #expect(try catalog.apply(.startRebalance(volume: "vol")) == [.persist])
        #expect(try record(catalog).state == .inProgress && record(catalog).run == 1)
        #expect(throws: FileSystemError.self) { try catalog.apply(.startRebalance(volume: "vol")) }

        // Reports move the cursor without bumping the catalog's version (no client needs a new spec for them).
        let version = catalog.version
        _ = try catalog.apply(.recordRebalance(volume: "vol", run: 1, progress: progress(["d", "f"], scanned: 7), state: .inProgress, failure: nil))
        #expect(catalog.version == version)
        #expect(try record(catalog).progress.cursor == ["d", "f"])

        // Stopped: the runner's last report is still kept, but the record stays stopped.
        _ = try catalog.apply(.stopRebalance(volume: "vol"))
        _ = try catalog.apply(.recordRebalance(volume: "vol", run: 1, progress: progress(["d", "g"], scanned: 8), state: .inProgress, failure: nil))
        #expect(try record(catalog).state == .stopped && record(catalog).progress.cursor == ["d", "g"])
        #expect(throws: FileSystemError.self) { try catalog.apply(.stopRebalance(volume: "vol")) }

        // Start resumes from the cursor under a new run; the old run's reports are refused from then on.
        _ = try catalog.apply(.startRebalance(volume: "vol"))
        #expect(try record(catalog).run == 2 && record(catalog).progress.cursor == ["d", "g"])
        #expect(throws: FileSystemError.self) {
            try catalog.apply(.recordRebalance(volume: "vol", run: 1, progress: progress([], scanned: 0), state: .inProgress, failure: nil))
        }
        _ = try catalog.apply(.recordRebalance(volume: "vol", run: 2, progress: progress(["z"], scanned: 20), state: .completed, failure: nil))
        #expect(try record(catalog).state == .completed)
        // A completed rebalance's reports are refused; a new start begins from nothing.
        #expect(throws: FileSystemError.self) {
            try catalog.apply(.recordRebalance(volume: "vol", run: 2, progress: progress([], scanned: 0), state: .inProgress, failure: nil))
        }
        _ = try catalog.apply(.startRebalance(volume: "vol"))
        #expect(try record(catalog).progress == RebalanceProgress() && record(catalog).run == 3)
        let decoded = try JSONDecoder().decode(Catalog.self, from: try JSONEncoder().encode(catalog))
        #expect(decoded == catalog)
    }

    @Test func failedResumesAndRefusals() throws {
        var catalog = try startedVolume()
        #expect(throws: FileSystemError.self) { try catalog.apply(.startRebalance(volume: "nope")) }
        #expect(throws: FileSystemError.self) { try catalog.apply(.stopRebalance(volume: "vol")) }
        _ = try catalog.apply(.startRebalance(volume: "vol"))
        _ = try catalog.apply(.recordRebalance(volume: "vol", run: 1, progress: progress(["a"], scanned: 3), state: .failed, failure: "brick gone"))
        #expect(try record(catalog).failure == "brick gone")
        _ = try catalog.apply(.startRebalance(volume: "vol"))
        #expect(try record(catalog).progress.cursor == ["a"] && record(catalog).failure == nil)

        // An add-brick during a run restarts its crawl under a new run (counters kept).
        _ = try catalog.apply(.addBricks(volume: "vol", bricks: [try BrickLocation(parsing: "node1:/b/2")], force: false))
        #expect(try record(catalog).run == 3 && record(catalog).progress.cursor == [] && record(catalog).progress.counters.scannedFiles == 3)

        // Stopping the volume stops its rebalance; a stopped volume cannot start one.
        _ = try catalog.apply(.stopVolume(name: "vol"))
        #expect(try record(catalog).state == .stopped)
        #expect(throws: FileSystemError.self) { try catalog.apply(.startRebalance(volume: "vol")) }
    }
}
