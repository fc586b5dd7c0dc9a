import MortarCore
import MortarProtocolClient
import NIOCore
import Testing

@Suite("Byte-range locks across clients")
struct LockTests {
    static func lock(_ kind: LockRequest.Kind, _ start: UInt64, _ length: UInt64, owner: UInt64 = 1) -> LockRequest {
        LockRequest(kind: kind, start: start, length: length, owner: owner, processID: Int32(owner))
    }

    @Test func conflictsAreReportedAndReleasedWhenTheConnectionGoes() async throws {
        let brick = try await LoopbackBrick.start()
        let context = OperationContext()
        let first = brick.makeClient(name: "first")
        let second = brick.makeClient(name: "second")
        let created = try await first.create(
            "locked", in: .root, id: .random(), permissions: 0o644, flags: .readWrite, context: context)
        let other = try await second.open(created.file.id, flags: .readWrite, context: context)

        try await first.lock(created.file, Self.lock(.write, 0, 100), wait: false, context: context)
        let error = await #expect(throws: FileSystemError.self) {
            try await second.lock(other, Self.lock(.read, 50, 10, owner: 2), wait: false, context: context)
        }
        #expect(error?.code == .wouldBlock)
        let blocker = try await second.testLock(other, Self.lock(.write, 99, 1, owner: 2), context: context)
        #expect(blocker?.kind == .write)
        #expect(blocker?.start == 0)
        // Non-overlapping and shared locks are fine.
        try await second.lock(other, Self.lock(.write, 100, 10, owner: 2), wait: false, context: context)

        // A blocking lock waits until the first client's connection goes away.
        async let granted: Void = second.lock(other, Self.lock(.write, 0, 10, owner: 2), wait: true, context: context)
        first.shutdown()
        try await granted
        #expect(brick.service.locks.lockCount == 2)

        try await second.release(other, context: context)
        #expect(brick.service.locks.lockCount == 0, "closing a file releases its locks")
        second.shutdown()
        await brick.stop()
        brick.removeDirectory()
    }
}
