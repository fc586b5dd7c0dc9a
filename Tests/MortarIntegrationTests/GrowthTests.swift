import Foundation
import Mortar
import MortarCore
import NIOCore
import Testing

/// `mortar volume add-brick` with real processes: a one-brick volume grows to three while two clients hold it open.
/// Files written before are all still read by both; files created afterwards by either client land on the new
/// bricks too (new placement at once, no crawl), and the client that did not add anything sees the other's files.
@Suite("volume add-brick", .serialized)
struct GrowthTests {
    static func write(_ text: String, to path: String, on volume: Mortar.Volume) async throws {
        let file = try await volume.create(path, flags: [.readWrite, .create, .exclusive])
        _ = try await file.write(ByteBuffer(string: text), at: 0)
        try await file.close()
    }

    static func read(_ path: String, on volume: Mortar.Volume) async throws -> String {
        let file = try await volume.open(path, flags: .read)
        let bytes = try await file.read(count: 4096, at: 0)
        try await file.close()
        return String(buffer: bytes)
    }

    /// Writes `DIRECTORY/after-N` (N = 0, 1, …) through `volume` until `placed` says one reached a new brick (a
    /// client learns of a growth within `Limits.specRefreshMilliseconds` of its next new name; 60 s is the
    /// generous bound, and the time is printed), then `more` files. Returns how many were written before the first
    /// placed one and in all.
    static func writeUntilPlaced(
        in directory: String, through volume: Mortar.Volume, then more: Int, _ placed: () -> Bool
    ) async throws -> (before: Int, created: Int) {
        let started = ContinuousClock.now
        var created = 0
        while !placed() {
            guard ContinuousClock.now - started < .seconds(60) else {
                throw FileSystemError(.timedOut, "no new file reached a new brick within 60 s (\(created) written)")
            }
            try await write("after \(created)", to: "\(directory)/after-\(created)", on: volume)
            created += 1
        }
        print("the first file on a new brick was number \(created), \(ContinuousClock.now - started) after add-brick")
        let before = created
        for _ in 0..<more {
            try await write("after \(created)", to: "\(directory)/after-\(created)", on: volume)
            created += 1
        }
        return (before, created)
    }

    /// The names directly in `directory` of a brick's exported tree (the brick's own `.mortar` left out).
    static func names(onBrick brick: String, in directory: String) -> Set<String> {
        Set(((try? FileManager.default.contentsOfDirectory(atPath: brick + directory)) ?? []).filter { $0 != ".mortar" })
    }

    @Test func aVolumeGrowsUnderItsClients() async throws {
        let cluster = try ProcessCluster()
        try await cluster.startDaemon()
        let bricks = try (0..<3).map { try cluster.makeBrickDirectory("g\($0)") }
        try await cluster.expectSuccess("volume", "create", "grow", "127.0.0.1:" + bricks[0])
        try await cluster.expectSuccess("volume", "start", "grow")
        let first = try await cluster.connect("grow")
        let second = try await cluster.connect("grow")
        _ = try await first.makeDirectory("/d")
        for index in 0..<40 { try await Self.write("before \(index)", to: "/d/before-\(index)", on: first) }

        let grown = try await cluster.expectSuccess(
            ["volume", "add-brick", "grow"] + bricks[1...].map { "127.0.0.1:" + $0 })
        #expect(grown.output.contains("3 bricks in all"), "\(grown.output)")
        let info = try await cluster.expectSuccess("volume", "info", "grow")
        #expect(info.output.contains(bricks[2]), "\(info.output)")
        #expect(info.output.contains("Layout: 2 generations, 1 -> 3 bricks"), "\(info.output)")
        try await waitUntil("the new bricks are online", seconds: 90) {
            try await cluster.brickProcesses("grow").allSatisfy(\.online)
        }

        // The first client learns of the new bricks within `Limits.specRefreshMilliseconds` of its next new name:
        // create files until one lands on a new brick (a generous bound; the time is printed), then 60 more.
        let (before, created) = try await Self.writeUntilPlaced(in: "/d", through: first, then: 60) {
            !Self.names(onBrick: bricks[1], in: "/d").union(Self.names(onBrick: bricks[2], in: "/d")).isEmpty
        }
        let onNew = Self.names(onBrick: bricks[1], in: "/d").union(Self.names(onBrick: bricks[2], in: "/d"))
        let lateOnNew = onNew.filter { Int($0.dropFirst("after-".count)).map { $0 >= before } ?? false }
        #expect(lateOnNew.count > 25, "only \(lateOnNew.count) of the last 60 new files on the new bricks")
        #expect(onNew.allSatisfy { $0.hasPrefix("after-") }, "files written before the growth stay where they are")

        // Both clients read every file, old and new, and list each once.
        for client in [first, second] {
            for index in 0..<40 { #expect(try await Self.read("/d/before-\(index)", on: client) == "before \(index)") }
            for index in 0..<created { #expect(try await Self.read("/d/after-\(index)", on: client) == "after \(index)") }
            let listed = try await client.listDirectory("/d").map(\.name).filter { $0 != "." && $0 != ".." }
            #expect(listed.count == 40 + created && Set(listed).count == 40 + created, "\(listed.count) names listed")
        }

        await first.close()
        await second.close()
        await cluster.tearDown()
    }

    /// A replica-3 volume grows from 1 x 3 to 2 x 3 under a client: the new set's three members each hold the files
    /// placed on it, old files are read from the first set, and a second client that connected before the growth
    /// reads the new set's files. Each set's members are on one host here (`--force`); `tests/netns` has hosts.
    @Test func aReplicatedVolumeGainsASet() async throws {
        let cluster = try ProcessCluster()
        try await cluster.startDaemon()
        let bricks = try (0..<6).map { try cluster.makeBrickDirectory("s\($0)") }
        try await cluster.expectSuccess(
            ["volume", "create", "rep", "replica", "3"] + bricks[0..<3].map { "127.0.0.1:" + $0 } + ["--force"])
        try await cluster.expectSuccess("volume", "start", "rep")
        let first = try await cluster.connect("rep")
        let second = try await cluster.connect("rep")
        for index in 0..<20 { try await Self.write("before \(index)", to: "/before-\(index)", on: first) }

        try await cluster.expectFailure(
            ["volume", "add-brick", "rep"] + bricks[3..<5].map { "127.0.0.1:" + $0 } + ["--force"],
            mentioning: "whole replica sets")
        try await cluster.expectSuccess(["volume", "add-brick", "rep"] + bricks[3...].map { "127.0.0.1:" + $0 } + ["--force"])
        try await waitUntil("the new set's members are online", seconds: 90) {
            let processes = try await cluster.brickProcesses("rep")
            return processes.count == 6 && processes.allSatisfy(\.online)
        }
        let (_, created) = try await Self.writeUntilPlaced(in: "", through: first, then: 40) {
            !Self.names(onBrick: bricks[3], in: "/").isEmpty
        }
        // Every member of the new set holds what was placed on it; the old set kept every file written before.
        let onNewSet = (3..<6).map { Self.names(onBrick: bricks[$0], in: "/") }
        #expect(onNewSet[0].count > 10, "only \(onNewSet[0].count) files on the new set")
        #expect(onNewSet[1] == onNewSet[0] && onNewSet[2] == onNewSet[0], "members differ: \(onNewSet)")
        #expect((0..<20).allSatisfy { Self.names(onBrick: bricks[0], in: "/").contains("before-\($0)") })
        for client in [first, second] {
            for index in 0..<20 { #expect(try await Self.read("/before-\(index)", on: client) == "before \(index)") }
            for index in 0..<created { #expect(try await Self.read("/after-\(index)", on: client) == "after \(index)") }
            let listed = try await client.listDirectory("/").map(\.name).filter { !$0.hasPrefix(".") }
            #expect(listed.count == 20 + created, "\(listed.count) names listed")
        }
        // The new set is a replica set like the first: `volume status` shows its members in sync.
        let status = try await cluster.expectSuccess("volume", "status", "rep")
        #expect(status.output.contains(bricks[5]), "\(status.output)")

        await first.close()
        await second.close()
        await cluster.tearDown()
    }
}
