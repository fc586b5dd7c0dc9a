import Foundation
import Mortar
import MortarCore
import NIOCore
import Synchronization
import Testing

/// A daemon's restart, upgrade or crash is no outage of its host's bricks: they go on serving while it is away,
/// and the next daemon adopts them instead of starting new ones.
@Suite("Daemon restarts under load", .serialized)
struct DaemonRestartTests {
    /// A client writes 4 KiB records with fsync to a replica-3 volume while the daemon is stopped (SIGTERM) or
    /// killed (SIGKILL) and started again: no write fails, writes go on while no daemon runs, the brick processes
    /// are the same before and after, the restarted daemon reports them online, and every acknowledged record reads
    /// back.
    @Test(arguments: [SIGTERM, SIGKILL])
    func bricksServeThroughADaemonRestart(signal: Int32) async throws {
        let set = try await ReplicatedCluster.start()
        let cluster = set.cluster
        let before = try await cluster.brickProcesses(set.volume).map(\.pid)
        #expect(before.allSatisfy { $0 != nil }, "bricks without processes: \(before)")

        let acknowledged = Acknowledged()
        let stop = StopFlag()
        let stalls = try await withThrowingTaskGroup(of: Duration.self) { group in
            group.addTask {
                try await Self.writeRecords(to: try await set.connect(), every: .milliseconds(10), acknowledged, until: stop)
            }
            try await Self.waitForWrites(20, beyond: 0, acknowledged)

            let stopped = ContinuousClock.now
            try await cluster.stopDaemon(signal: signal)
            let atStop = acknowledged.value.load(ordering: .relaxed)
            // With no daemon on the host, writes go on.
            try await Self.waitForWrites(20, beyond: atStop, acknowledged)
            print("daemon restart (signal \(signal)): \(acknowledged.value.load(ordering: .relaxed) - atStop) writes acknowledged while no daemon ran")

            try await cluster.startDaemon()
            try await waitUntil("the restarted daemon reports every brick online", seconds: 90) {
                try await cluster.brickProcesses(set.volume).allSatisfy(\.online)
            }
            let after = try await cluster.brickProcesses(set.volume).map(\.pid)
            #expect(after == before, "the restarted daemon started new bricks instead of adopting: \(before) -> \(after)")
            try await Self.waitForWrites(20, beyond: acknowledged.value.load(ordering: .relaxed), acknowledged)
            print("daemon restart (signal \(signal)): daemon away and back in \(ContinuousClock.now - stopped)")
            stop.set()
            var all: [Duration] = []
            for try await slowest in group { all.append(slowest) }
            return all
        }
        print("daemon restart (signal \(signal)): slowest acknowledged write+fsync \(stalls.max() ?? .zero)")

        try await Self.expectRecords(in: try await set.connect(), count: acknowledged.value.load(ordering: .relaxed))
        try await set.expectConvergedReplicas()
        await set.tearDown()
    }

    /// Writes 4 KiB records to `path` of `volume`, each followed by fsync and a pause, counting the acknowledged
    /// ones, until `stop`; returns the slowest write+fsync. Closes the volume.
    static func writeRecords(
        to volume: Volume, path: String = "/log", every pause: Duration, _ acknowledged: Acknowledged,
        until stop: StopFlag
    ) async throws -> Duration {
        // Opened, not created exclusively: a test may have created it to learn its primary.
        let file = try await volume.open(path, flags: OpenFlags.readWrite.union(.create), permissions: 0o644)
        var slowest = Duration.zero
        var index = 0
        while !stop.isSet {
            let started = ContinuousClock.now
            let written = try await file.write(ReplicationFaultTests.record(writer: 0, index: index), at: UInt64(index * 4096))
            #expect(written == 4096)
            try await file.synchronize()
            index += 1
            acknowledged.value.store(index, ordering: .relaxed)
            slowest = max(slowest, ContinuousClock.now - started)
            try await Task.sleep(for: pause)
        }
        try await file.close()
        await volume.close()
        return slowest
    }

    /// Expects the first `count` records of `path` of `volume` to read back as written. Closes the volume.
    static func expectRecords(in volume: Volume, path: String = "/log", count: Int) async throws {
        let file = try await volume.open(path)
        for index in 0..<count {
            let data = try await file.read(count: 4096, at: UInt64(index * 4096))
            #expect(Array(buffer: data) == ReplicationFaultTests.record(writer: 0, index: index), "record \(index) of \(count)")
        }
        try await file.close()
        await volume.close()
    }

    /// Waits (bounded: a hang fails) until `count` more writes than `beyond` have been acknowledged.
    static func waitForWrites(_ count: Int, beyond: Int, _ acknowledged: Acknowledged) async throws {
        try await waitUntil("\(count) more writes are acknowledged", seconds: 60) {
            acknowledged.value.load(ordering: .relaxed) >= beyond + count
        }
    }
}

/// How many records the writer has had acknowledged.
final class Acknowledged: Sendable {
    let value = Atomic<Int>(0)
}
