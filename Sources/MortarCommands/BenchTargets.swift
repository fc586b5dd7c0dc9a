import Foundation
import Mortar
import MortarCore
import NIOCore
import NIOPosix

/// What a benchmark drives: the same calls against a volume or against a local file.
protocol BenchTarget: Sendable {
    func prepare(size: UInt64) async throws
    func write(_ data: ByteBuffer, at offset: UInt64) async throws
    func read(count: Int, at offset: UInt64) async throws -> Int
    func synchronize() async throws
    func dropCaches() async throws
}

/// The volume side: one open file through the client library.
final class VolumeTarget: BenchTarget, @unchecked Sendable {
    let volume: Volume
    let path: String
    // Set once in prepare(), before any concurrent use.
    private var file: File?

    init(volume: Volume, path: String) {
        self.volume = volume
        self.path = path
    }

    func prepare(size: UInt64) async throws {
        if let file { try await file.close() }
        file = try await volume.open(path, flags: [.readWrite, .create], permissions: 0o644)
    }

    private func open() throws -> File {
        guard let file else { throw FileSystemError(.badFileHandle, "benchmark file is not open") }
        return file
    }

    func write(_ data: ByteBuffer, at offset: UInt64) async throws { try await open().write(data, at: offset) }
    func read(count: Int, at offset: UInt64) async throws -> Int {
        try await open().read(count: count, at: offset).readableBytes
    }
    func synchronize() async throws { try await open().synchronize() }
    func dropCaches() async throws { try BenchSystem.dropPageCache() }

    func cleanUp() async throws {
        try await file?.close()
        file = nil
        try await volume.unlink(path)
    }
}

/// The baseline: the same file operations with pread/pwrite on a local file, on a thread pool so that queue depth
/// means the same thing on both sides.
final class LocalTarget: BenchTarget, @unchecked Sendable {
    let path: String
    let threadPool: NIOThreadPool
    // Set once in prepare(), before any concurrent use.
    private var descriptor: Int32 = -1

    init(path: String, threadPool: NIOThreadPool) throws {
        self.path = path
        self.threadPool = threadPool
    }

    func prepare(size: UInt64) async throws {
        if descriptor >= 0 { close(descriptor) }
        descriptor = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw FileSystemError.fromErrno("open", path) }
    }

    func write(_ data: ByteBuffer, at offset: UInt64) async throws {
        let descriptor = descriptor
        let path = path
        try await threadPool.runIfActive {
            try data.withUnsafeReadableBytes { bytes in
                guard pwrite(descriptor, bytes.baseAddress, bytes.count, off_t(offset)) == bytes.count else {
                    throw FileSystemError.fromErrno("pwrite", path)
                }
            }
        }
    }

    func read(count: Int, at offset: UInt64) async throws -> Int {
        let descriptor = descriptor
        let path = path
        return try await threadPool.runIfActive {
            var buffer = ByteBuffer()
            return try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { bytes in
                let got = pread(descriptor, bytes.baseAddress, count, off_t(offset))
                guard got >= 0 else { throw FileSystemError.fromErrno("pread", path) }
                return got
            }
        }
    }

    func synchronize() async throws {
        let descriptor = descriptor
        try await threadPool.runIfActive { _ = fsync(descriptor) }
    }

    func dropCaches() async throws { try BenchSystem.dropPageCache() }

    func cleanUp() throws {
        if descriptor >= 0 { close(descriptor) }
        unlink(path)
    }
}

enum BenchSystem {
    /// Drops the page cache so reads come from the disk (needs root; a no-op with a note otherwise).
    static func dropPageCache() throws {
        sync()
        if let handle = FileHandle(forWritingAtPath: "/proc/sys/vm/drop_caches") {
            handle.write(Data("3\n".utf8))
            // Best effort: dropping the page cache only makes a benchmark's cold start colder.
            try? handle.close()
        } else {
            FileHandle.standardError.write(Data("note: cannot drop the page cache (not root); reads may be cached\n".utf8))
        }
    }
}
