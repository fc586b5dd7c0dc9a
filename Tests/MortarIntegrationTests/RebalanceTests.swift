import Foundation
import Glibc
import Mortar
import MortarCore
import NIOCore
import Testing

/// `mortar volume rebalance` with real processes: a volume grown from two bricks to four has its files moved to
/// where the newest layout places them, with clients reading and changing files throughout; a rebalance stopped,
/// or whose daemon is killed, resumes where it was; a file held open is left where it is until it is closed.
@Suite("volume rebalance", .serialized)
struct RebalanceTests {
    /// What file `index` holds: a few hundred bytes naming it, different lengths for different files.
    static func content(_ index: Int) -> String {
        String(repeating: "file \(index) of the rebalance test. ", count: 3 + index % 9)
    }

    static func path(_ index: Int) -> String { "/d\(index % 10)/f\(index)" }

    static func write(_ text: String, to path: String, on volume: Mortar.Volume) async throws {
        let file = try await volume.create(path, flags: [.readWrite, .create, .exclusive])
        _ = try await file.write(ByteBuffer(string: text), at: 0)
        try await file.close()
    }

    static func read(_ path: String, on volume: Mortar.Volume) async throws -> String {
        let file = try await volume.open(path, flags: .read)
        let size = try await file.attributes().size
        let bytes = try await file.read(count: Int(size), at: 0)
        try await file.close()
        return String(buffer: bytes)
    }

    /// A volume of two bricks holding `count` files in ten directories, grown to four bricks.
    static func grownVolume(
        _ cluster: ProcessCluster, name: String, files count: Int
    ) async throws -> (bricks: [String], client: Mortar.Volume) {
        let bricks = try (0..<4).map { try cluster.makeBrickDirectory("\(name)\($0)") }
        try await cluster.expectSuccess(["volume", "create", name] + bricks[0..<2].map { "127.0.0.1:" + $0 })
        try await cluster.expectSuccess("volume", "start", name)
        let client = try await cluster.connect(name)
        for directory in 0..<10 { _ = try await client.makeDirectory("/d\(directory)") }
        for index in 0..<count { try await write(content(index), to: path(index), on: client) }
        try await cluster.expectSuccess(["volume", "add-brick", name] + bricks[2...].map { "127.0.0.1:" + $0 })
        try await waitUntil("the new bricks are online", seconds: 90) {
            try await cluster.brickProcesses(name).allSatisfy(\.online)
        }
        return (bricks, client)
    }

    /// Regular files under a brick's exported tree (its `.mortar` left out), by volume path, with their modes.
    static func files(onBrick brick: String) -> [String: mode_t] {
        var found: [String: mode_t] = [:]
        guard let walker = FileManager.default.enumerator(atPath: brick) else { return found }
        while let relative = walker.nextObject() as? String {
            if relative == ".mortar" { walker.skipDescendants(); continue }
            var status = stat()
            guard lstat(brick + "/" + relative, &status) == 0, status.st_mode & S_IFMT == S_IFREG else { continue }
            found["/" + relative] = status.st_mode & 0o7777
        }
        return found
    }

    /// The volume's rebalance status, as the CLI's JSON-free table shows it: the row's cells by column.
    static func status(_ cluster: ProcessCluster, _ volume: String) async throws -> [String: String] {
        let result = try await cluster.expectSuccess("volume", "rebalance", volume, "status")
        let lines = result.output.split(separator: "\n").map(String.init)
        guard lines.count >= 3 else { throw FileSystemError.protocolError("status printed \(result.output)") }
        let columns = ["Node", "Rebalanced-files", "size", "scanned", "failures", "skipped", "status", "run"]
        // Cells are separated by two spaces or more; "in progress" holds one.
        let cells = lines[2].components(separatedBy: "  ").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
        return Dictionary(uniqueKeysWithValues: zip(columns, cells))
    }

    /// Waits (at most `seconds`, printing how long it took) until the rebalance reads `state`.
    static func wait(
        for state: String, _ cluster: ProcessCluster, _ volume: String, seconds: Double = 180
    ) async throws -> [String: String] {
        let started = ContinuousClock.now
        var last: [String: String] = [:]
        try await waitUntil("the rebalance of \(volume) is \(state)", seconds: seconds) {
            last = try await status(cluster, volume)
            return last["status"] == state
        }
        print("rebalance of \(volume) \(state) after \(ContinuousClock.now - started): \(last)")
        return last
    }

    @Test func aRebalanceMovesFilesWhileClientsUseThem() async throws {
        let cluster = try ProcessCluster(metrics: true)
        try await cluster.startDaemon()
        let count = 2000
        let (bricks, client) = try await Self.grownVolume(cluster, name: "reb", files: count)
        // What must survive a move: a sparse file's holes, an extended attribute, mode, owner and times.
        let sparse = try await client.create("/d0/sparse", flags: [.readWrite, .create, .exclusive])
        _ = try await sparse.write(ByteBuffer(string: "in the middle"), at: 4 << 20)
        try await sparse.truncate(to: 8 << 20)
        try await sparse.close()
        try await client.setExtendedAttribute("user.note", to: Array("kept".utf8), of: "/d1/f1")
        let stamp = Timestamp(seconds: 1_600_000_000, nanoseconds: 5)
        _ = try await client.setAttributes(
            "/d2/f2", AttributeChanges(permissions: 0o640, userID: 1234, groupID: 567, modificationTime: .set(stamp)))
        let before = Set(Self.files(onBrick: bricks[0]).keys).union(Self.files(onBrick: bricks[1]).keys)
        #expect(before.count == count + 1)

        // A second client reads files and changes their attributes throughout: no error may reach it.
        let reader = try await cluster.connect("reb")
        let started = try await cluster.expectSuccess("volume", "rebalance", "reb", "start")
        #expect(started.output.contains("rebalance started"), "\(started.output)")
        try await cluster.expectFailure(["volume", "rebalance", "reb", "start"], mentioning: "already in progress")
        var readsDuringMoves = 0
        var index = 0
        while try await Self.status(cluster, "reb")["status"] == "in progress" {
            let file = (index * 7919) % count
            #expect(try await Self.read(Self.path(file), on: reader) == Self.content(file))
            _ = try await reader.setAttributes(Self.path(file), AttributeChanges(permissions: 0o644))
            readsDuringMoves += 1
            index += 1
        }
        let final = try await Self.wait(for: "completed", cluster, "reb")
        print("\(readsDuringMoves) reads and chmods while files moved")
        #expect(final["failures"] == "0" && final["skipped"] == "0", "\(final)")

        // Every file is where the newest layout places it, spread within 15 % of even; no link file is left.
        let onBricks = bricks.map { Self.files(onBrick: $0) }
        let linkFiles = onBricks.flatMap { $0.filter { $0.value == 0o1000 }.keys }
        #expect(linkFiles.isEmpty, "link files left: \(linkFiles.prefix(5))")
        let counts = onBricks.map(\.count)
        #expect(counts.reduce(0, +) == count + 1, "\(counts)")
        let even = Double(count + 1) / 4
        #expect(counts.allSatisfy { abs(Double($0) - even) <= 0.15 * even }, "files per brick: \(counts)")
        #expect(Int(final["Rebalanced-files"] ?? "") == counts[2] + counts[3], "\(final) vs \(counts)")
        // The daemon running it exports the same figures.
        let text = try MetricsTests.scrape(cluster)
        #expect(MetricsTests.value(text, "mortar_rebalance_files", ["volume": "reb", "outcome": "moved"]) == Double(counts[2] + counts[3]))
        #expect(MetricsTests.value(text, "mortar_rebalance_files", ["volume": "reb", "outcome": "scanned"]) == Double(count + 1))
        #expect(MetricsTests.value(text, "mortar_rebalance_running", ["volume": "reb"]) == 0)
        let checked = try MetricsTests.run("/usr/bin/promtool", ["check", "metrics"], input: text)
        #expect(checked.succeeded, "promtool check metrics: \(checked.output) \(checked.error)")

        // Contents, holes, attributes: through a client connected before the moves and through a new one.
        let fresh = try await cluster.connect("reb")
        for volume in [client, fresh] {
            for file in 0..<count { #expect(try await Self.read(Self.path(file), on: volume) == Self.content(file)) }
            #expect(try await volume.extendedAttribute("user.note", of: "/d1/f1") == Array("kept".utf8))
            let moved = try await volume.attributes("/d2/f2")
            #expect(moved.userID == 1234 && moved.groupID == 567 && moved.modificationTime == stamp, "\(moved)")
            let holes = try await volume.open("/d0/sparse", flags: .read)
            #expect(String(buffer: try await holes.read(count: 13, at: 4 << 20)) == "in the middle")
            #expect(try await holes.read(count: 4, at: 1 << 20).readableBytesView.allSatisfy { $0 == 0 })
            try await holes.close()
        }
        let sparsePath = bricks.map { $0 + "/d0/sparse" }.first { FileManager.default.fileExists(atPath: $0) }
        var sparseStatus = stat()
        #expect(sparsePath.map { lstat($0, &sparseStatus) } == 0 && sparseStatus.st_blocks * 512 < 1 << 20,
                "the sparse file takes \(sparseStatus.st_blocks * 512) bytes on its brick")
        let listed = try await fresh.listDirectory("/d3").map(\.name).filter { !$0.hasPrefix(".") }
        #expect(listed.count == count / 10 && Set(listed).count == listed.count, "\(listed.count) names in /d3")

        await client.close()
        await reader.close()
        await fresh.close()
        await cluster.tearDown()
    }

    /// Stopped, and then its daemon killed: each time it resumes after the last path it recorded, and what it
    /// moved before is not moved again (the count of moved files equals the files that left the first bricks).
    @Test func aRebalanceResumesAfterStopAndDaemonKill() async throws {
        let cluster = try ProcessCluster()
        try await cluster.startDaemon()
        let count = 2000
        let (bricks, client) = try await Self.grownVolume(cluster, name: "res", files: count)
        try await cluster.expectSuccess("volume", "set", "res", "cluster.rebal-throttle", "lazy")
        try await cluster.expectSuccess("volume", "rebalance", "res", "start")
        try await waitUntil("files are moving", seconds: 120) {
            Int(try await Self.status(cluster, "res")["Rebalanced-files"] ?? "") ?? 0 >= 50
        }
        let stop = try await cluster.expectSuccess("volume", "rebalance", "res", "stop")
        #expect(stop.output.contains("stopped"), "\(stop.output)")
        let stopped = try await Self.status(cluster, "res")
        #expect(stopped["status"] == "stopped")
        // Its runner records what it did after the stop too: wait for the count to settle.
        try await Task.sleep(for: .seconds(3))
        let settled = try await Self.status(cluster, "res")
        let scannedAtStop = Int(settled["scanned"] ?? "") ?? 0
        #expect(scannedAtStop > 0 && scannedAtStop < count, "\(settled)")

        try await cluster.expectSuccess("volume", "rebalance", "res", "start")
        try await waitUntil("the resumed run moves on", seconds: 120) {
            Int(try await Self.status(cluster, "res")["scanned"] ?? "") ?? 0 > scannedAtStop + 100
        }
        try await cluster.stopDaemon(signal: SIGKILL)
        try await cluster.startDaemon()
        let resumed = try await Self.status(cluster, "res")
        #expect(resumed["status"] == "in progress", "\(resumed)")
        try await cluster.expectSuccess("volume", "set", "res", "cluster.rebal-throttle", "aggressive")
        let final = try await Self.wait(for: "completed", cluster, "res")

        let onBricks = bricks.map { Self.files(onBrick: $0) }
        let counts = onBricks.map(\.count)
        #expect(counts.reduce(0, +) == count, "\(counts)")
        #expect(onBricks.allSatisfy { $0.values.allSatisfy { $0 != 0o1000 } }, "a link file was left")
        // Scanned at most a few batches twice (what the killed daemon did after its last record), never all again.
        let scanned = Int(final["scanned"] ?? "") ?? 0
        #expect(scanned >= count && scanned < count + 200, "\(final)")
        // Files moved in the second before the kill are found in place afterwards and not counted again.
        let moved = Int(final["Rebalanced-files"] ?? "") ?? 0
        #expect(moved <= counts[2] + counts[3] && moved > (counts[2] + counts[3]) * 8 / 10, "\(final) vs \(counts)")
        let reader = try await cluster.connect("res")
        for file in 0..<count { #expect(try await Self.read(Self.path(file), on: reader) == Self.content(file)) }

        await client.close()
        await reader.close()
        await cluster.tearDown()
    }

    /// Files held open and written throughout stay where they are (skipped; their writer never sees an error and
    /// every byte it wrote is there); once closed, the next start moves them.
    @Test func anOpenFileIsLeftUntilClosed() async throws {
        let cluster = try ProcessCluster()
        try await cluster.startDaemon()
        let (bricks, client) = try await Self.grownVolume(cluster, name: "opn", files: 200)
        // Every file of /d4 held open and appended to in 8-byte records; about half of them are due to move.
        let held = (0..<200).filter { $0 % 10 == 4 }
        var open: [Mortar.File] = []
        for index in held { open.append(try await client.open(Self.path(index), flags: .readWrite)) }
        try await cluster.expectSuccess("volume", "rebalance", "opn", "start")
        var rounds = 0
        var final: [String: String] = [:]
        repeat {
            for (slot, file) in open.enumerated() {
                let record = "<" + String(String(rounds).reversed()).padding(toLength: 6, withPad: "0", startingAt: 0) + ">"
                _ = try await file.write(
                    ByteBuffer(string: record), at: UInt64(Self.content(held[slot]).utf8.count + 8 * rounds))
            }
            rounds += 1
            final = try await Self.status(cluster, "opn")
        } while final["status"] == "in progress"
        #expect(final["status"] == "completed", "\(final)")
        let newBricks = { Set(Self.files(onBrick: bricks[2]).keys).union(Self.files(onBrick: bricks[3]).keys) }
        #expect(held.filter { newBricks().contains(Self.path($0)) }.isEmpty, "an open file moved")
        #expect(Int(final["skipped"] ?? "") ?? 0 > 0, "no open file was due to move: \(final)")
        for file in open { try await file.close() }

        try await cluster.expectSuccess("volume", "rebalance", "opn", "start")
        let second = try await Self.wait(for: "completed", cluster, "opn")
        #expect(second["skipped"] == "0" && second["failures"] == "0", "\(second)")
        #expect(!held.filter { newBricks().contains(Self.path($0)) }.isEmpty, "no closed file moved")
        for index in held {
            var expected = Self.content(index)
            for round in 0..<rounds {
                expected += "<" + String(String(round).reversed()).padding(toLength: 6, withPad: "0", startingAt: 0) + ">"
            }
            #expect(try await Self.read(Self.path(index), on: client) == expected, "file \(index)")
        }
        await client.close()
        await cluster.tearDown()
    }
}
