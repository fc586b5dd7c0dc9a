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

/// Lookups and attribute reads are answered on the calling thread while the metadata lane is open, and through the
/// I/O pool for a while after one was slow — with the same answers either way.
@Suite("Metadata on the calling thread")
struct InlineMetadataTests {
    @Test func lookupsAndAttributesSkipThePool() async throws {
        try await TestBrick.with { brick in
            let created = try await brick.createFile("answered", contents: "four")
            let before = brick.storage.metadataAnsweredInline
            let found = try await brick.storage.lookup("answered", in: .root, context: brick.context)
            let described = try await brick.storage.attributes(of: found.id, context: brick.context)
            let open = try await brick.storage.attributes(ofOpen: created.file, context: brick.context)
            #expect(brick.storage.metadataAnsweredInline == before + 3, "a metadata request went to the pool")
            #expect(found.id == created.attributes.id && described.id == found.id && open.id == found.id)
            #expect(found.size == 4 && described.size == 4 && open.size == 4)
            // Errors come back as they do from the pool: typed, naming what was wrong.
            await expectError(.notFound) { try await brick.storage.lookup("absent", in: .root, context: brick.context) }
        }
    }

    /// With a threshold every request exceeds, the first inline one pauses the lane: the next goes to the pool
    /// and answers the same.
    @Test func aSlowLookupSendsTheNextOnesToThePool() async throws {
        try await TestBrick.with(inlineMetadataSlowMicroseconds: 0) { brick in
            let created = try await brick.createFile("paused", contents: "five!")
            let first = try await brick.storage.lookup("paused", in: .root, context: brick.context)
            #expect(brick.storage.metadataAnsweredInline == 1)
            let second = try await brick.storage.lookup("paused", in: .root, context: brick.context)
            #expect(brick.storage.metadataAnsweredInline == 1, "a lookup ran inline while the lane was paused")
            #expect(first == second && first.id == created.attributes.id && second.size == 5)
            // The write lane is its own: a paused metadata lane leaves small writes inline.
            let writes = brick.storage.writesMadeInline
            _ = try await brick.storage.write(ByteBuffer(string: "x"), to: created.file, at: 0, context: brick.context)
            #expect(brick.storage.writesMadeInline == writes + 1)
        }
    }

    /// A small file's lookup, open and head come from one inline job when the page cache holds the head; evicted,
    /// the head is read by the pool, the same bytes.
    @Test func aCachedSmallFileIsLookedUpOpenedAndReadInline() async throws {
        try await TestBrick.with { brick in
            let contents = String(repeating: "small file ", count: 300)
            let created = try await brick.createFile("small", contents: contents)
            try await brick.storage.release(created.file, context: brick.context)
            let (metadata, cached) = (brick.storage.metadataAnsweredInline, brick.storage.readsServedFromCache)
            let found = try await brick.storage.lookupAndRead(
                "small", in: .root, flags: .read, count: 64 << 10, context: brick.context)
            let opened = try #require(found.opened)
            #expect(String(buffer: opened.head) == contents)
            #expect(brick.storage.metadataAnsweredInline == metadata + 1 && brick.storage.readsServedFromCache == cached + 1)
            try await brick.storage.release(opened.file, context: brick.context)

            // Evicted, the head goes to the pool (in one of a few tries: see CachedReadTests).
            let wentToThePool = try await CachedReadTests.someReadAfterEvictionWentToThePool(brick, "small") {
                let again = try await brick.storage.lookupAndRead(
                    "small", in: .root, flags: .read, count: 64 << 10, context: brick.context)
                let reopened = try #require(again.opened)
                #expect(String(buffer: reopened.head) == contents)
                try await brick.storage.release(reopened.file, context: brick.context)
            }
            #expect(wentToThePool, "an evicted head was read on the calling thread in every try")
        }
    }
}

