import Foundation
import Mortar
import MortarCore
import MortarManagementAPI
import MortarMembership
import NIOCore
import Synchronization
import Testing

/// Replicated volumes with real processes and real faults: bricks killed with SIGKILL while clients write, a
/// member's disk filling up, a heal that must move only what changed.
@Suite("Replication with real processes", .serialized)
struct ReplicationFaultTests {
    /// The bytes of record `index` of writer `writer`: a header naming both, then a pattern derived from them, so
    /// a record read back is checked against its own identity, not merely against what another read saw.
    static func record(writer: Int, index: Int, size: Int = 4096) -> [UInt8] {
        var bytes = Array("writer \(writer) record \(index) ".utf8)
        var state = UInt64(writer) << 32 | UInt64(index)
        while bytes.count < size {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            bytes.append(UInt8(truncatingIfNeeded: state >> 33))
        }
        return bytes
    }

    /// Three writers (own client connections each) append checksummed records and make small files, logging what
    /// was acknowledged, while a brick of the replica-3 set is killed every two seconds (one at a time: never a
    /// majority; first a file's primary, then the namespace primary, then random members) and restarted by its
    /// daemon. A primary killed mid-write must never have acknowledged what is not on the in-sync members. Afterwards every acknowledged record reads back exactly, every
    /// acknowledged small file exists, and once heal is done the three brick directories are identical.
    @Test func acknowledgedWritesSurviveRepeatedBrickKills() async throws {
        let set = try await ReplicatedCluster.start()
        let writers = 3
        let stop = StopFlag()
        let writing = WritingCount()
        // `async let`: if the writers fail, the killer is cancelled and awaited on the way out, not left killing.
        async let killer: Int = {
            defer { stop.set() }
            var generator = SystemRandomNumberGenerator()
            var kills = 0
            // The kills must land while every writer writes: on a loaded machine connecting can take seconds
            // (generous bound: a hang fails).
            try await waitUntil("every writer has a write acknowledged", seconds: 120) {
                writing.value.load(ordering: .relaxed) == writers
            }
            try await Task.sleep(for: .seconds(1))
            while kills < 6 {
                // The first kills hit the primaries of a writer's file and of the namespace (mid-write by
                // construction: the writers never pause); the rest hit random members.
                let victim: Int
                switch kills {
                case 0: victim = try await set.primary(of: "writer-0.log") ?? 0
                case 1: victim = try await set.status().replicaSets[0].namespacePrimary ?? 0
                default: victim = Int.random(in: 0..<3, using: &generator)
                }
                if let pid = try await set.pid(ofBrick: victim) {
                    kill(pid, SIGKILL)
                    kills += 1
                }
                try await Task.sleep(for: .seconds(2))
                // One at a time: the next kill waits until the set is whole again.
                try await set.waitUntilInSync(seconds: 60)
            }
            return kills
        }()
        let results = try await withThrowingTaskGroup(
            of: (writer: Int, acknowledged: Int, files: [String], slowest: Duration).self
        ) {
            group in
            for writer in 0..<writers {
                group.addTask {
                    let volume = try await set.connect()
                    let file = try await volume.create("/writer-\(writer).log")
                    var acknowledged = 0
                    var files: [String] = []
                    var slowest = Duration.zero
                    while !stop.isSet {
                        let started = ContinuousClock.now
                        let bytes = Self.record(writer: writer, index: acknowledged)
                        let written = try await file.write(bytes, at: UInt64(acknowledged * 4096))
                        #expect(written == 4096)
                        acknowledged += 1
                        if acknowledged == 1 { writing.value.add(1, ordering: .relaxed) }
                        if acknowledged % 25 == 0 {
                            let name = "/writer-\(writer)-\(acknowledged)"
                            let small = try await volume.create(name)
                            _ = try await small.write(Array(name.utf8), at: 0)
                            try await small.close()
                            files.append(name)
                        }
                        slowest = max(slowest, ContinuousClock.now - started)
                    }
                    try await file.close()
                    await volume.close()
                    return (writer, acknowledged, files, slowest)
                }
            }
            var all: [(writer: Int, acknowledged: Int, files: [String], slowest: Duration)] = []
            for try await result in group { all.append(result) }
            return all.sorted { $0.writer < $1.writer }
        }
        let kills = try await killer
        #expect(kills == 6)
        try await set.waitUntilInSync(seconds: 60)

        let reader = try await set.connect()
        for result in results {
            let writer = result.writer
            // Enough writes to span the kills; on a quiet machine each writer gets well over a thousand through,
            // on a machine shared with a benchmark a few dozen.
            #expect(result.acknowledged >= 10, "writer \(writer) got only \(result.acknowledged) writes through")
            let file = try await reader.open("/writer-\(writer).log")
            var wrong: [Int] = []
            for index in 0..<result.acknowledged {
                let data = try await file.read(count: 4096, at: UInt64(index * 4096))
                if Array(data.readableBytesView) != Self.record(writer: writer, index: index) { wrong.append(index) }
            }
            #expect(wrong.isEmpty, "writer \(writer): \(wrong.count) of \(result.acknowledged) acknowledged records read back wrong, first \(wrong.prefix(3)), last \(wrong.suffix(3)); cluster in \(set.cluster.directory)")
            try await file.close()
            for name in result.files {
                #expect((try? await reader.attributes(name)) != nil, "acknowledged file \(name) is missing")
            }
        }
        let slowest = results.map(\.slowest).max() ?? .zero
        print("replication kill test: \(kills) kills, \(results.map(\.acknowledged)) records acknowledged, "
            + "longest single write \(slowest)")
        await reader.close()
        try await set.expectConvergedReplicas()
        await set.tearDown()
    }

    /// One member's disk fills up: the writer never sees ENOSPC (a backup that cannot apply a change is taken out
    /// of the set; a primary that cannot steps down and the change goes to the next), everything written reads
    /// back, and once the disk has room again the member heals and all three copies are identical.
    @Test func aMemberWhoseDiskFillsIsTakenOutAndHealedLater() async throws {
        let cluster = try ProcessCluster()
        let small = try cluster.makeBrickDirectory("small")
        let mounted = try cluster.runSystem("/bin/mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", small)
        try #require(mounted == 0, "mounting an 8 MiB tmpfs failed (status \(mounted)); this test needs root")
        defer { _ = try? cluster.runSystem("/bin/umount", "-l", small) }
        let directories = [try cluster.makeBrickDirectory("b0"), try cluster.makeBrickDirectory("b1"), small]
        let set = try await ReplicatedCluster.start(cluster: cluster, directories: directories)
        let volume = try await set.connect()
        var expected: [UInt8] = []
        for index in 0..<24 {
            let file = try await volume.create("/file-\(index)")
            let bytes = Self.record(writer: 9, index: index, size: 1 << 20)
            let written = try await file.write(bytes, at: 0)
            #expect(written == bytes.count, "file \(index): the writer saw a short write")
            try await file.close()
            if index == 23 { expected = bytes }
        }
        let status = try await set.status()
        #expect(status.replicaSets[0].members[2] != .inSync, "the full member is still in sync: \(status.replicaSets[0])")
        let last = try await volume.open("/file-23")
        #expect(Array(try await last.read(count: 1 << 20, at: 0).readableBytesView) == expected)
        try await last.close()
        await volume.close()

        let grown = try cluster.runSystem("/bin/mount", "-o", "remount,size=64m", small)
        #expect(grown == 0)
        try await set.waitUntilInSync(seconds: 60)
        try await set.expectConvergedReplicas()
        // Unmounted first, or the tmpfs keeps its mount point (and the cluster's directory) from being removed.
        _ = try cluster.runSystem("/bin/umount", "-l", small)
        await set.tearDown()
    }

    /// The issue's incremental heal: a 1 GiB file, one member down while 10 MiB of it is rewritten; the heal
    /// copies about those 10 MiB (counted by the bricks), not the gigabyte, and the copies end identical.
    @Test func healCopiesWhatChangedNotTheWholeFile() async throws {
        let set = try await ReplicatedCluster.start()
        let volume = try await set.connect()
        let file = try await volume.create("/image")
        let megabyte = ByteBuffer(repeating: 0x41, count: 1 << 20)
        for index in 0..<1024 { try await file.write(megabyte, at: UInt64(index) << 20) }
        try await set.waitUntilInSync()
        // This test is about what a member misses while it is down; one stopped with its own changes still
        // unsettled has those files copied whole (README, "A write that fails is still healed to one version").
        try await set.waitUntilSettled()

        // Down: killed, and its directory moved away so that its restarts fail until it is put back.
        let away = 2
        let directory = set.brickDirectories[away]
        let pid = try #require(try await set.pid(ofBrick: away))
        try FileManager.default.moveItem(atPath: directory, toPath: directory + ".away")
        kill(pid, SIGKILL)
        var generator = SystemRandomNumberGenerator()
        let changed = ByteBuffer(repeating: 0x42, count: 1 << 20)
        var offsets = Set<UInt64>()
        while offsets.count < 10 { offsets.insert(UInt64.random(in: 0..<1024, using: &generator) << 20) }
        for offset in offsets.sorted() { try await file.write(changed, at: offset) }
        try await file.close()
        await volume.close()
        #expect(try await set.status().replicaSets[0].members[away] == .outOfSync)
        try FileManager.default.moveItem(atPath: directory + ".away", toPath: directory)

        try await set.waitUntilInSync(seconds: 90)
        // Heal info is what the bricks told the manager's last heartbeat (every 0.5 s).
        var healed: UInt64 = 0
        try? await waitUntil("heal info shows the bytes the heal copied", seconds: 10) {
            healed = try await set.healInfo().reduce(0) { $0 + $1.bytesHealed }
            return healed >= 10 << 20
        }
        print("incremental heal: 10 MiB rewritten of 1 GiB while a member was down; heal copied \(healed) bytes")
        #expect(healed >= 10 << 20, "heal copied \(healed) bytes, less than the 10 MiB that changed")
        #expect(healed < 64 << 20, "heal copied \(healed) bytes: far more than the 10 MiB that changed")
        try await set.expectConvergedReplicas()
        await set.tearDown()
    }

    /// replace-brick on a started volume with data: the new, empty brick is healed in full (a tree of
    /// directories, files, a symbolic link and a hard link) and ends identical to the other members.
    @Test func aReplacedBrickIsHealedInFull() async throws {
        let set = try await ReplicatedCluster.start()
        let volume = try await set.connect()
        _ = try await volume.makeDirectory("/tree")
        _ = try await volume.makeDirectory("/tree/deeper")
        for index in 0..<20 {
            let file = try await volume.create("/tree/\(index % 2 == 0 ? "" : "deeper/")file-\(index)")
            _ = try await file.write(Self.record(writer: 7, index: index, size: 64 << 10), at: 0)
            try await file.close()
        }
        _ = try await volume.makeSymbolicLink("/tree/link", target: "file-0")
        _ = try await volume.link("/tree/file-0", as: "/tree/hard")
        await volume.close()
        let replacement = try set.cluster.makeBrickDirectory("replacement")
        try await set.cluster.expectSuccess(
            "volume", "replace-brick", set.volume, "127.0.0.1:" + set.brickDirectories[1], "127.0.0.1:" + replacement,
            "--force")
        let replaced = ReplicatedCluster(
            cluster: set.cluster, volume: set.volume,
            brickDirectories: [set.brickDirectories[0], replacement, set.brickDirectories[2]])
        try await replaced.waitUntilInSync(seconds: 60)
        try await replaced.expectConvergedReplicas()
        let reader = try await replaced.connect()
        #expect(try await reader.readSymbolicLink("/tree/link") == "file-0")
        #expect(try await reader.attributes("/tree/hard").linkCount == 2)
        await reader.close()
        await set.tearDown()
    }
}

/// A flag one task raises and others read.
final class StopFlag: Sendable {
    private let raised = Atomic<Bool>(false)

    var isSet: Bool { raised.load(ordering: .relaxed) }

    func set() {
        raised.store(true, ordering: .relaxed)
    }
}

/// How many writers have had a write acknowledged.
private final class WritingCount: Sendable {
    let value = Atomic<Int>(0)
}
