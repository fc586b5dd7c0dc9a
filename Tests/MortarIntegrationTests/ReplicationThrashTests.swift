import Foundation
import Mortar
import MortarCore
import Testing

/// Replicas converge even when writes fail: two members of a replica-3 set are frozen in quick succession and then
/// killed, again and again, so the set keeps falling below min-in-sync while a client writes. A write caught there may have been
/// applied by its primary and some members and not others; afterwards, with every member back in sync, the three
/// copies must be byte-identical and every acknowledged write must read back (a write that failed may read back
/// either way, but the same way from every member).
@Suite("Replicas converge after failed writes", .serialized)
struct ReplicationThrashTests {
    static let blockSize = 16 << 10
    static let blockCount = 256
    static let rounds = 8

    /// Block `block` as written for the `generation`-th time: a header naming both, then a pattern from them.
    static func bytes(block: Int, generation: Int) -> [UInt8] {
        ReplicationFaultTests.record(writer: block, index: generation, size: blockSize)
    }

    struct Writes: Sendable {
        var acknowledged: [Int: Int] = [:]
        var failed: [Int: Set<Int>] = [:]
        var failuresByCode: [String: Int] = [:]
        var count = 0
    }

    @Test
    func replicasConvergeAfterWritesFailBelowMinInSync() async throws {
        let set = try await ReplicatedCluster.start(volume: "thrash")
        let volume = try await set.connect()
        let file = try await volume.create("/disk.img")
        let stop = StopFlag()
        let started = ContinuousClock.now
        let (writes, belowMinimum) = try await withThrowingTaskGroup(of: (Writes?, Int?).self) { group in
            group.addTask {
                defer { stop.set() }
                return (nil, try await Self.killPairs(set))
            }
            group.addTask { (try await Self.write(file, until: stop), nil) }
            var writes: Writes?
            var belowMinimum: Int?
            for try await (written, rounds) in group {
                writes = writes ?? written
                belowMinimum = belowMinimum ?? rounds
            }
            return (try #require(writes), try #require(belowMinimum))
        }
        try await file.close()
        await volume.close()
        let converged = ContinuousClock.now
        try await set.waitUntilInSync(seconds: 120)
        print("replica thrash: \(Self.rounds) rounds of two kills in \(converged - started), \(belowMinimum) seen "
            + "below min-in-sync; \(writes.count) writes, \(writes.acknowledged.values.count) blocks acknowledged, "
            + "failures \(writes.failuresByCode); back in sync \(ContinuousClock.now - converged) later")
        #expect(belowMinimum == Self.rounds, "the set was seen below min-in-sync in \(belowMinimum) of \(Self.rounds) rounds")

        try await set.expectConvergedReplicas()
        let reader = try await set.connect()
        let readBack = try await reader.open("/disk.img")
        var wrong: [Int] = []
        for block in 0..<Self.blockCount {
            let data = Array(try await readBack.read(count: Self.blockSize, at: UInt64(block * Self.blockSize))
                .readableBytesView)
            if !Self.isAllowed(data, block: block, writes) { wrong.append(block) }
        }
        #expect(wrong.isEmpty, """
            blocks \(wrong.prefix(8)) read back neither their last acknowledged write nor a later failed one; \
            cluster in \(set.cluster.directory)
            """)
        try await readBack.close()
        await reader.close()
        await set.tearDown()
    }

    /// The contents a block may have: its last acknowledged write, or any write after it that failed (it may
    /// have been applied); a block never acknowledged may also still be a hole.
    static func isAllowed(_ data: [UInt8], block: Int, _ writes: Writes) -> Bool {
        let acknowledged = writes.acknowledged[block]
        var candidates = writes.failed[block, default: []].filter { $0 > (acknowledged ?? -1) }
        if let acknowledged { candidates.insert(acknowledged) }
        if candidates.contains(where: { data == bytes(block: block, generation: $0) }) { return true }
        return acknowledged == nil && data.allSatisfy { $0 == 0 }
    }

    /// Rounds of: freeze one member's brick (SIGSTOP), freeze another a moment later, wait until the manager has
    /// voted them out and the set is below min-in-sync, then kill both (the daemon restarts them and they heal) and
    /// wait until all three are back in sync. Frozen rather than killed at first: a killed brick is restarted at
    /// once, and on a loaded machine it could rejoin before the set was ever seen below its minimum, testing
    /// nothing. Returns in how many rounds the set was seen below min-in-sync (every round, or it throws).
    static func killPairs(_ set: ReplicatedCluster) async throws -> Int {
        var generator = SystemRandomNumberGenerator()
        var belowMinimum = 0
        try await Task.sleep(for: .milliseconds(500))
        for _ in 0..<rounds {
            let first = Int.random(in: 0..<3, using: &generator)
            let second = (first + Int.random(in: 1..<3, using: &generator)) % 3
            var frozen: [pid_t] = []
            for victim in [first, second] {
                let pid = try #require(try await set.pid(ofBrick: victim), "brick \(victim) has no process to stop")
                kill(pid, SIGSTOP)
                frozen.append(pid)
                try await Task.sleep(for: .milliseconds(Int.random(in: 100...400, using: &generator)))
            }
            // Heartbeats find the frozen members silent within seconds (generous bound: a hang fails).
            try await waitUntil("the set falls below min-in-sync with two members frozen", seconds: 60) {
                try await set.status().replicaSets[0].members.filter { $0 == .inSync }.count < 2
            }
            belowMinimum += 1
            for pid in frozen { kill(pid, SIGKILL) }
            try await set.waitUntilInSync(seconds: 120)
            try await Task.sleep(for: .milliseconds(300))
        }
        return belowMinimum
    }

    /// Writes random blocks until `stop`, noting which generation of each block was acknowledged and which
    /// failed (a failed write is not repeated: it stands for the write an application gave up on).
    static func write(_ file: File, until stop: StopFlag) async throws -> Writes? {
        var writes = Writes()
        var generator = SystemRandomNumberGenerator()
        var generation = 0
        while !stop.isSet {
            let block = Int.random(in: 0..<blockCount, using: &generator)
            generation += 1
            writes.count += 1
            do {
                let written = try await file.write(
                    bytes(block: block, generation: generation), at: UInt64(block * blockSize))
                #expect(written == blockSize)
                writes.acknowledged[block] = generation
            } catch let error as FileSystemError {
                writes.failed[block, default: []].insert(generation)
                writes.failuresByCode[error.code == .readOnlyFileSystem ? "EROFS" : "\(error.code)", default: 0] += 1
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        return writes
    }
}
