import Foundation
import MortarCore
import MortarProtocolClient
import MortarTransport
import NIOCore
import NIOPosix
import Testing

/// Nothing a client does reaches outside the brick directory, even as root and even while another connection
/// swaps a directory with a symbolic link that points outside (rename with the exchange flag) as fast as it can.
/// Round 1's bricks resolved string paths and followed such a link in an earlier component: 49 files appeared
/// outside within a second. Bricks now resolve beneath their root without following any link (HandleIndex).
@Suite("Confinement beneath the brick directory")
struct ConfinementRaceTests {
    /// The race runs at least this long,
    static let shortest = Duration.seconds(3)
    /// and on until this many rounds of changes went through,
    static let enoughRounds = 20
    /// but never longer than this.
    static let longest = Duration.seconds(120)

    @Test func swappingADirectoryWithAnOutsideLinkNeverEscapes() async throws {
        let outside = try LoopbackBrick.makeTemporaryDirectory("mortar-outside")
        defer { try? FileManager.default.removeItem(atPath: outside) }
        #expect(FileManager.default.createFile(atPath: outside + "/victim", contents: Data("original".utf8)))
        let modeBefore = try FileManager.default.attributesOfItem(atPath: outside)[.posixPermissions] as? Int
        let brick = try await LoopbackBrick.start()
        defer { brick.removeDirectory() }
        let swapper = brick.makeClient(name: "swapper")
        let creator = brick.makeClient(name: "creator")
        let root = OperationContext()
        let directory = try await swapper.makeDirectory("d", in: .root, id: .random(), permissions: 0o755, context: root)
        _ = try await swapper.makeSymbolicLink("s", in: .root, id: .random(), target: outside, context: root)

        // The race runs on an event loop, not the cooperative pool, which other tests block while their processes
        // run; and it runs until enough rounds went through on both sides (at least 3 s), bounded by 120 s, rather
        // than for a fixed time a starved machine might spend on one round.
        let stop = ManagedFlag()
        let started = ContinuousClock.now
        let outcome = try await withTaskExecutorPreference(EventLoopTaskExecutor(MultiThreadedEventLoopGroup.singleton.next())) {
            try await withThrowingTaskGroup(of: Attempts.self) { group in
                group.addTask {
                    var attempts = Attempts()
                    while !stop.isSet {
                        try await swapper.rename("d", in: .root, to: "s", in: .root, flags: .exchange, context: root)
                        attempts.swaps += 1
                    }
                    return attempts
                }
                group.addTask {
                    var attempts = Attempts()
                    var index = 0
                    while ContinuousClock.now - started < Self.longest,
                        ContinuousClock.now - started < Self.shortest || attempts.succeeded < Self.enoughRounds
                    {
                        index += 1
                        await attempts.run { try await Self.changeEverything(in: directory.id, index, creator, root) }
                    }
                    stop.set()
                    return attempts
                }
                var total = Attempts()
                for try await attempts in group { total.add(attempts) }
                return total
            }
        }
        print(
            "confinement race: \(outcome.succeeded) rounds succeeded inside, \(outcome.failed) refused, against "
                + "\(outcome.swaps) swaps in \(ContinuousClock.now - started)")
        let escaped = try FileManager.default.contentsOfDirectory(atPath: outside)
        #expect(escaped == ["victim"], "files appeared outside the brick: \(escaped)")
        #expect(try String(contentsOfFile: outside + "/victim", encoding: .utf8) == "original")
        let modeAfter = try FileManager.default.attributesOfItem(atPath: outside)[.posixPermissions] as? Int
        #expect(modeAfter == modeBefore, "the outside directory's mode changed")
        // The race ran: changes went through inside the brick while the swaps ran (else the test proved nothing).
        #expect(outcome.succeeded > 0)
        #expect(outcome.swaps > 0)
        swapper.shutdown()
        creator.shutdown()
        await brick.stop()
    }

    /// One round of changes under the directory's FileID: exclusive and truncating creates, a write, mkdir, a
    /// symbolic link, a FIFO, chmod, a rename, unlink of a name that also exists outside.
    private static func changeEverything(
        in directory: FileID, _ index: Int, _ client: ProtocolClient, _ context: OperationContext
    ) async throws {
        let created = try await client.create(
            "f\(index)", in: directory, id: .random(), permissions: 0o644, flags: [.readWrite, .create, .exclusive],
            context: context)
        try await client.release(created.file, context: context)
        let victim = try await client.create(
            "victim", in: directory, id: .random(), permissions: 0o644, flags: [.readWrite, .create, .truncate],
            context: context)
        _ = try await client.write(ByteBuffer(string: "overwritten"), to: victim.file, at: 0, context: context)
        try await client.release(victim.file, context: context)
        _ = try await client.makeDirectory("m\(index)", in: directory, id: .random(), permissions: 0o777, context: context)
        _ = try await client.makeSymbolicLink("l\(index)", in: directory, id: .random(), target: "/", context: context)
        _ = try await client.makeNode(
            "p\(index)", in: directory, id: .random(), type: .fifo, permissions: 0o666, device: 0, context: context)
        _ = try await client.setAttributes(AttributeChanges(permissions: 0o777), of: directory, context: context)
        try await client.rename("f\(index)", in: directory, to: "g\(index)", in: directory, flags: [], context: context)
        try await client.unlink("victim", in: directory, context: context)
    }
}

/// How many rounds of changes went through, how many were refused, and how many swaps ran (a swapped-in link refuses them).
private struct Attempts: Sendable {
    var succeeded = 0
    var failed = 0
    var swaps = 0

    mutating func run(_ body: () async throws -> Void) async {
        do {
            try await body()
            succeeded += 1
        } catch {
            failed += 1
        }
    }

    mutating func add(_ other: Attempts) {
        succeeded += other.succeeded
        failed += other.failed
        swaps += other.swaps
    }
}
