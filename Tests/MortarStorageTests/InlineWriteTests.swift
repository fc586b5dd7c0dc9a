import Foundation
import MortarCore
import MortarPosixStorage
import NIOCore
import Testing

/// Small buffered writes are made on the calling thread (the brick's event loop); large ones, writes to files
/// opened O_SYNC/O_DSYNC/O_DIRECT, and every write for a while after an inline one was slow go to the I/O pool —
/// with the same bytes on disk either way.
@Suite("Writes on the calling thread")
struct InlineWriteTests {
    static func bytes(_ count: Int, seed: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ seed) }
    }

    /// Reads the brick's file directly, not through the storage.
    static func contents(of path: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    @Test func smallWritesSkipThePoolLargeAndSynchronousOnesDoNot() async throws {
        try await TestBrick.with { brick in
            let created = try await brick.createFile("inline")
            let small = Self.bytes(Limits.brickInlineWriteByteCountMax, seed: 1)
            let before = brick.storage.writesMadeInline
            _ = try await brick.storage.write(ByteBuffer(bytes: small), to: created.file, at: 0, context: brick.context)
            #expect(brick.storage.writesMadeInline == before + 1, "a small buffered write went to the pool")

            let large = Self.bytes(Limits.brickInlineWriteByteCountMax + 1, seed: 2)
            _ = try await brick.storage.write(
                ByteBuffer(bytes: large), to: created.file, at: UInt64(small.count), context: brick.context)
            #expect(brick.storage.writesMadeInline == before + 1, "a write larger than the bound was made inline")
            #expect(try Self.contents(of: brick.root + "/inline") == small + large)

            let synchronous = try await brick.storage.open(
                created.attributes.id, flags: [.readWrite, .dataSynchronous], context: brick.context)
            _ = try await brick.storage.write(ByteBuffer(bytes: small), to: synchronous, at: 0, context: brick.context)
            #expect(brick.storage.writesMadeInline == before + 1, "an O_DSYNC write was made on the calling thread")
            try await brick.storage.release(synchronous, context: brick.context)
        }
    }

    /// With a threshold every write exceeds, the first inline write pauses inline writes: the next small write
    /// goes to the pool, and lands all the same.
    @Test func aSlowInlineWriteSendsTheNextOnesToThePool() async throws {
        try await TestBrick.with(inlineWriteSlowMicroseconds: 0) { brick in
            let created = try await brick.createFile("paused")
            let first = Self.bytes(4096, seed: 3)
            let second = Self.bytes(4096, seed: 4)
            _ = try await brick.storage.write(ByteBuffer(bytes: first), to: created.file, at: 0, context: brick.context)
            #expect(brick.storage.writesMadeInline == 1)
            _ = try await brick.storage.write(ByteBuffer(bytes: second), to: created.file, at: 4096, context: brick.context)
            #expect(brick.storage.writesMadeInline == 1, "a write was made inline while inline writes were paused")
            #expect(try Self.contents(of: brick.root + "/paused") == first + second)
        }
    }
}
