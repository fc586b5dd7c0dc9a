import Logging
import MortarCatalog
import MortarCore
import MortarManagementAPI
import MortarVolumeSpec

extension Manager {
    /// `rebalance VOL start`: recorded in the catalog; the daemon holding the manager role runs it
    /// (``RebalanceWorker``), resuming a stopped or failed one from its cursor.
    func startRebalance(volume name: String) async throws(FileSystemError) -> RebalanceStatusReply {
        _ = try await commit(.startRebalance(volume: name))
        logger.info("rebalance started", metadata: ["volume": "\(name)"])
        return try rebalanceStatus(volume: name)
    }

    func stopRebalance(volume name: String) async throws(FileSystemError) -> RebalanceStatusReply {
        _ = try await commit(.stopRebalance(volume: name))
        logger.info("rebalance stopped", metadata: ["volume": "\(name)"])
        return try rebalanceStatus(volume: name)
    }

    /// The rebalance as the catalog read last records it.
    func rebalanceStatus(volume name: String) throws(FileSystemError) -> RebalanceStatusReply {
        let volume = try existingVolume(name)
        let throttle = volume.options["cluster.rebal-throttle"] ?? VolumeOptions.defaults["cluster.rebal-throttle"] ?? "normal"
        guard let record = volume.rebalance else {
            return RebalanceStatusReply(
                volume: name, state: "not started", host: catalog.managerHost, cursor: "/",
                counters: RebalanceCounters(), secondsLeft: nil, throttle: throttle, failure: nil)
        }
        return RebalanceStatusReply(
            volume: name, state: record.state.rawValue, host: catalog.managerHost,
            cursor: "/" + record.progress.cursor.joined(separator: "/"), counters: record.progress.counters,
            secondsLeft: record.state == .inProgress ? Self.secondsLeft(record.progress.counters) : nil,
            throttle: throttle, failure: record.failure)
    }

    /// Time left at the pace so far, over the entries the bricks held when the run began (an overestimate: the
    /// bricks' own bookkeeping counts too).
    static func secondsLeft(_ counters: RebalanceCounters) -> Double? {
        let scanned = counters.scannedFiles + counters.scannedDirectories
        guard scanned > 0, counters.elapsedSeconds > 0, counters.estimatedEntries > 0 else { return nil }
        let left = counters.estimatedEntries > scanned ? counters.estimatedEntries - scanned : 0
        return counters.elapsedSeconds * Double(left) / Double(scanned)
    }

    /// A runner's report of run `run` (see ``CatalogCommand/recordRebalance(volume:run:progress:state:failure:)``),
    /// stored only while this daemon holds the manager role: a runner that lost it stops at its next report. A
    /// report of a run that was stopped is stored and then answered with ECANCELED, which ends the runner.
    func recordRebalance(
        volume name: String, run: Int, progress: RebalanceProgress, state: RebalanceState, failure: String? = nil
    ) async throws(FileSystemError) {
        let stored = try await transact(needsRole: true) { catalog throws(FileSystemError) in
            let directives = try catalog.apply(
                .recordRebalance(volume: name, run: run, progress: progress, state: state, failure: failure))
            return (directives.contains(.persist), catalog.volume(named: name)?.rebalance?.state)
        }
        guard stored == state else {
            throw FileSystemError(.canceled, "the rebalance of volume \(name) was stopped")
        }
    }

    /// Where this daemon's own management API answers (the rebalance's client fetches the volume's spec there).
    var ownAddress: (host: String, port: Int) { (localHost, listenPort) }
}
