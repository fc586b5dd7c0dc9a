import Foundation
import MortarCore
import MortarPosixStorage
import MortarTesting
import NIOPosix
import Testing

/// One conformance suite (every back end passes the same checks), run against the in-memory model
/// (MortarCoreTests), the POSIX storage on a temporary directory, and the whole client stack over loopback (here).
@Suite("Conformance across back ends")
struct StackConformanceTests {
    @Test(arguments: FileOperationsConformance.checks)
    func posixStorage(_ check: ConformanceCheck) async throws {
        let root = try LoopbackBrick.makeTemporaryDirectory("mortar-conformance")
        let storage = try await PosixStorage.prepare(
            root: root, threadPool: .singleton, logger: OperationContext.silentLogger)
        defer { try? FileManager.default.removeItem(atPath: root) }
        try await check.run(storage)
        #expect(storage.openHandleCount == 0, "check \(check.name) left files open")
    }

    @Test(arguments: FileOperationsConformance.checks)
    func protocolClientOverLoopback(_ check: ConformanceCheck) async throws {
        let brick = try await LoopbackBrick.start()
        let client = brick.makeClient()
        try await check.run(client)
        #expect(client.openFileCount == 0, "check \(check.name) left files open")
        client.shutdown()
        await brick.stop()
        brick.removeDirectory()
    }
}

/// Random operation sequences through the real stack compared with the reference model, replayable from the seed.
@Suite("Randomised model comparison")
struct StackRandomTests {
    @Test(arguments: [11, 12, 13] as [UInt64])
    func stackMatchesReference(seed: UInt64) async throws {
        let brick = try await LoopbackBrick.start()
        let client = brick.makeClient()
        let sequence = RandomOperationSequence(seed: seed, stepCount: 250)
        try await sequence.run(subject: client, reference: MemoryFileSystem())
        client.shutdown()
        await brick.stop()
        brick.removeDirectory()
    }

    @Test(arguments: [21, 22] as [UInt64])
    func posixStorageMatchesReference(seed: UInt64) async throws {
        let root = try LoopbackBrick.makeTemporaryDirectory("mortar-random")
        let storage = try await PosixStorage.prepare(
            root: root, threadPool: .singleton, logger: OperationContext.silentLogger)
        defer { try? FileManager.default.removeItem(atPath: root) }
        try await RandomOperationSequence(seed: seed, stepCount: 300).run(subject: storage, reference: MemoryFileSystem())
    }
}
