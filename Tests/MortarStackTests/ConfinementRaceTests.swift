import Foundation
import MortarCore
import MortarProtocolClient
import NIOCore
import Testing

/// Nothing a client does reaches outside the brick directory, even as root and even while another connection
/// swaps a directory with a symbolic link that points outside (rename with the exchange flag) as fast as it can.
/// Round 1's bricks resolved string paths and followed such a link in an earlier component: 49 files appeared
/// outside within a second. Bricks now resolve beneath their root without following any link (HandleIndex).
@Suite("Confinement beneath the brick directory")
struct ConfinementRaceTests {
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

        let stop = ManagedFlag()
        let outcome = try await withThrowingTaskGroup(of: Attempts.self) { group in
            group.addTask {
                while !stop.isSet {
                    try await swapper.rename("d", in: .root, to: "s", in: .root, flags: .exchange, context: root)
                }
                return Attempts()
            }
            group.addTask {
                var attempts = Attempts()
                var index = 0
                let deadline = ContinuousClock.now + .seconds(3)
                while ContinuousClock.now < deadline {
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
        print("confinement race: \(outcome.succeeded) operations succeeded inside, \(outcome.failed) refused, in 3 s of swaps")
        let escaped = try FileManager.default.contentsOfDirectory(atPath: outside)
        #expect(escaped == ["victim"], "files appeared outside the brick: \(escaped)")
        #expect(try String(contentsOfFile: outside + "/victim", encoding: .utf8) == "original")
        let modeAfter = try FileManager.default.attributesOfItem(atPath: outside)[.posixPermissions] as? Int
        #expect(modeAfter == modeBefore, "the outside directory's mode changed")
        // The race ran: some changes went through inside the brick (else the test proved nothing).
        #expect(outcome.succeeded > 0)
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

/// How many rounds of changes went through and how many were refused (a swapped-in link refuses them).
private struct Attempts: Sendable {
    var succeeded = 0
    var failed = 0

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
    }
}
