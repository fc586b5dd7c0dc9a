import MortarCore
import MortarProtocolClient
import NIOCore
import Testing

@Suite("Many requests on one connection")
struct PipeliningTests {
    /// 512 concurrent reads of distinct blocks share one connection (more than the in-flight limit, so some wait
    /// for a slot); every reply must reach the caller that asked for it.
    @Test func concurrentReadsGetTheirOwnReplies() async throws {
        let brick = try await LoopbackBrick.start()
        let client = brick.makeClient()
        let context = OperationContext()
        let created = try await client.create(
            "blocks", in: .root, id: .random(), permissions: 0o644, flags: .readWrite, context: context)
        let blockSize = 4096
        let blockCount = 512
        for block in 0..<blockCount {
            let data = ByteBuffer(repeating: UInt8(block % 251), count: blockSize)
            _ = try await client.write(data, to: created.file, at: UInt64(block * blockSize), context: context)
        }
        try await withThrowingTaskGroup(of: (Int, ByteBuffer).self) { group in
            for block in (0..<blockCount).shuffled() {
                group.addTask {
                    (block, try await client.read(from: created.file, at: UInt64(block * blockSize), count: blockSize,
                                                  context: context))
                }
            }
            for try await (block, data) in group {
                #expect(data.readableBytes == blockSize)
                #expect(data.readableBytesView.allSatisfy { $0 == UInt8(block % 251) }, "block \(block) mixed up")
            }
        }
        try await client.release(created.file, context: context)
        client.shutdown()
        await brick.stop()
        brick.removeDirectory()
    }
}
