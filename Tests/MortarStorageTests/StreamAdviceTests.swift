import Foundation
import MortarCore
import MortarPosixStorage
import NIOCore
import Testing

/// A full-size read (`Limits.ioByteCountMax`) is a stream: the brick asks the kernel to start reading the next
/// `Limits.brickStreamAdviceByteCount` bytes at once, so the disk works while the reply travels.
@Suite("Stream advice")
struct StreamAdviceTests {
    @Test func aFullSizeReadStartsReadingWhatFollows() async throws {
        try await TestBrick.with { brick in
            let created = try await brick.createFile("stream")
            let size = Limits.ioByteCountMax + Limits.brickStreamAdviceByteCount + (1 << 20)
            _ = try await brick.storage.write(
                ByteBuffer(repeating: 0x5A, count: Limits.ioByteCountMax), to: created.file, at: 0,
                context: brick.context)
            for offset in stride(from: Limits.ioByteCountMax, to: size, by: Limits.ioByteCountMax) {
                _ = try await brick.storage.write(
                    ByteBuffer(repeating: 0x5B, count: Limits.ioByteCountMax), to: created.file, at: UInt64(offset),
                    context: brick.context)
            }
            let path = brick.root + "/stream"
            let probe = Limits.ioByteCountMax + Limits.brickStreamAdviceByteCount / 2
            try Self.evict(path)
            // The file system must be able to drop the pages (tmpfs cannot): otherwise nothing here is measured.
            try #require(
                try !Self.isResident(path, at: probe),
                "the pages of \(path) stay resident after POSIX_FADV_DONTNEED: this file system cannot show the advice")
            // A smaller read asks for nothing.
            _ = try await brick.storage.read(from: created.file, at: 0, count: 4096, context: brick.context)
            #expect(try !Self.isResident(path, at: probe), "a 4 KiB read made the brick read ahead")
            try Self.evict(path)
            let data = try await brick.storage.read(
                from: created.file, at: 0, count: Limits.ioByteCountMax, context: brick.context)
            #expect(data.readableBytes == Limits.ioByteCountMax)
            // The kernel reads the advised range in the background: wait for it (bounded), never sleep and hope.
            let started = ContinuousClock.now
            var resident = false
            while !resident, ContinuousClock.now - started < .seconds(20) {
                resident = try Self.isResident(path, at: probe)
                if !resident { try await Task.sleep(for: .milliseconds(10)) }
            }
            print("stream advice: the page \(probe) bytes in was resident \(ContinuousClock.now - started) after the read")
            #expect(resident, "the range after a full-size read was not read within 20 s")
        }
    }

    /// Drops the file's pages from the page cache (written back first).
    static func evict(_ path: String) throws {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw FileSystemError.fromErrno("open", path) }
        defer { close(descriptor) }
        fdatasync(descriptor)
        guard posix_fadvise(descriptor, 0, 0, POSIX_FADV_DONTNEED) == 0 else {
            throw FileSystemError.fromErrno("posix_fadvise", path)
        }
    }

    /// Whether the page holding byte `offset` of the file is in the page cache (mincore over a mapping).
    static func isResident(_ path: String, at offset: Int) throws -> Bool {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw FileSystemError.fromErrno("open", path) }
        defer { close(descriptor) }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = offset / page * page
        guard let mapping = mmap(nil, page, PROT_READ, MAP_SHARED, descriptor, off_t(start)), mapping != MAP_FAILED else {
            throw FileSystemError.fromErrno("mmap", path)
        }
        defer { munmap(mapping, page) }
        var vector: UInt8 = 0
        guard mincore(mapping, page, &vector) == 0 else { throw FileSystemError.fromErrno("mincore", path) }
        return vector & 1 == 1
    }
}

/// Small reads the page cache holds are answered on the calling thread (RWF_NOWAIT); everything else — pages not
/// cached, the end of the file — goes to the I/O pool, with the same bytes either way.
@Suite("Reads from the page cache")
struct CachedReadTests {
    /// How often a test evicts a page and reads it before concluding that reads of evicted pages stay inline.
    static let evictionTries = 5

    /// Evicts the pages of `name` on `brick` and runs `read`, up to ``evictionTries`` times; whether one of the reads
    /// went to the pool (the brick's count of reads served from the page cache did not move). One try is not
    /// enough: the kernel's own read of a missing page can finish before an RWF_NOWAIT attempt looks again.
    static func someReadAfterEvictionWentToThePool(
        _ brick: TestBrick, _ name: String, _ read: () async throws -> Void
    ) async throws -> Bool {
        let path = brick.root + "/" + name
        for _ in 0..<evictionTries {
            try StreamAdviceTests.evict(path)
            try #require(
                try !StreamAdviceTests.isResident(path, at: 0),
                "the pages of \(path) stay resident after POSIX_FADV_DONTNEED: this file system cannot show the pool's read")
            let counted = brick.storage.readsServedFromCache
            try await read()
            if brick.storage.readsServedFromCache == counted { return true }
        }
        return false
    }

    @Test func cachedReadsSkipThePoolAndReadTheSameBytes() async throws {
        try await TestBrick.with { brick in
            let created = try await brick.createFile("cached")
            let bytes = (0..<(64 << 10)).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            _ = try await brick.storage.write(ByteBuffer(bytes: bytes), to: created.file, at: 0, context: brick.context)
            let before = brick.storage.readsServedFromCache
            let cached = try await brick.storage.read(from: created.file, at: 4096, count: 8192, context: brick.context)
            #expect(Array(buffer: cached) == Array(bytes[4096..<12288]))
            #expect(brick.storage.readsServedFromCache == before + 1, "a cached read went to the pool")

            // Past the end: short, from the pool.
            let tail = try await brick.storage.read(from: created.file, at: 60 << 10, count: 8192, context: brick.context)
            #expect(Array(buffer: tail) == Array(bytes[(60 << 10)...]))
            #expect(brick.storage.readsServedFromCache == before + 1)

            // Not cached: from the pool (when the file system can drop the pages; tmpfs cannot). The kernel starts
            // reading a missing page even for RWF_NOWAIT, and on a loaded machine that read can finish before the
            // attempt looks again, which then finds the page: so an evicted read must go to the pool in at least
            // one of a few tries (a brick that always read inline would in none), and every try reads right.
            let wentToThePool = try await CachedReadTests.someReadAfterEvictionWentToThePool(brick, "cached") {
                let cold = try await brick.storage.read(from: created.file, at: 0, count: 4096, context: brick.context)
                #expect(Array(buffer: cold) == Array(bytes[0..<4096]))
            }
            #expect(wentToThePool, "an evicted page was read on the calling thread in every try")
        }
    }
}
