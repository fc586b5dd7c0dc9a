import Foundation
import MortarProtocolClient
import Mortar
import MortarCore
import MortarTesting
import NIOCore
import NIOPosix
import Testing

/// A brick whose answers overstate what happened: reads return more bytes than asked, writes claim more bytes than
/// were sent. Either would be trusted into caller memory sized for the request (the drop-in copies a read into the
/// application's buffer), so the protocol client refuses them.
private final class OverstatingBrick: Layer {
    let next: any FileOperations
    init(next: any FileOperations) { self.next = next }

    func read(from file: OpenFile, at offset: UInt64, count: Int, context: OperationContext) async throws
        -> ByteBuffer
    {
        ByteBuffer(repeating: 0x5A, count: count + 4096)
    }

    func write(_ data: ByteBuffer, to file: OpenFile, at offset: UInt64, context: OperationContext) async throws
        -> Int
    {
        _ = try await next.write(data, to: file, at: offset, context: context)
        return data.readableBytes + 1
    }
}

/// A brick that reports open files past the largest offset an `off_t` holds, and finds data there.
private final class BeyondOffTBrick: Layer {
    let next: any FileOperations
    init(next: any FileOperations) { self.next = next }

    func attributes(ofOpen file: OpenFile, context: OperationContext) async throws -> FileAttributes {
        var attributes = try await next.attributes(ofOpen: file, context: context)
        attributes.size = UInt64(Int64.max) + 1
        return attributes
    }

    func seek(_ file: OpenFile, from offset: UInt64, to target: SeekTarget, context: OperationContext) async throws
        -> UInt64
    {
        .max
    }
}

@Suite("Bricks that overstate their answers")
struct LyingBrickTests {
    @Test func longerReadsAndLargerWriteCountsAreRefused() async throws {
        let brick = try await LoopbackBrick.start(aboveStorage: { OverstatingBrick(next: $0) })
        let client = brick.makeClient()
        let context = OperationContext()
        let created = try await client.create(
            "f", in: .root, id: .random(), permissions: 0o644, flags: .readWrite, context: context)

        let readError = await #expect(throws: FileSystemError.self) {
            _ = try await client.read(from: created.file, at: 0, count: 512, context: context)
        }
        #expect(readError?.code == .protocolError)
        #expect(readError?.message.contains("answered a read of 512 bytes with 4608") == true, "\(String(describing: readError))")

        let writeError = await #expect(throws: FileSystemError.self) {
            _ = try await client.write(ByteBuffer(repeating: 1, count: 100), to: created.file, at: 0, context: context)
        }
        #expect(writeError?.code == .protocolError)
        #expect(writeError?.message.contains("wrote 101 bytes of 100") == true, "\(String(describing: writeError))")

        client.shutdown()
        await brick.stop()
        brick.removeDirectory()
    }

    /// Seeking to the end of such a file, or to its data, is EOVERFLOW for the caller (lseek's answer), not a trap
    /// in the caller's process.
    @Test func offsetsPastOffTAreOverflowErrors() async throws {
        let brick = try await LoopbackBrick.start(aboveStorage: { BeyondOffTBrick(next: $0) })
        let client = brick.makeClient()
        let volume = Volume(stack: client, name: "beyond")
        let file = try await volume.create("/f")
        for whence in [File.Whence.end, .data] {
            let error = await #expect(throws: FileSystemError.self) { try await file.seek(0, from: whence) }
            #expect(error?.code == .valueOverflow, "\(whence): \(String(describing: error))")
        }
        try await file.close()
        await volume.close()
        client.shutdown()
        await brick.stop()
        brick.removeDirectory()
    }
}
