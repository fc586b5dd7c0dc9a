import CMortarLinux
import Glibc
import Logging
import MortarCore
import NIOCore
import Synchronization

extension PosixStorage {
    /// Reads `count` bytes at `offset`; fewer only at the end of the file.
    public func read(from file: OpenFile, at offset: UInt64, count: Int, context: OperationContext) async throws
        -> ByteBuffer
    {
        guard count >= 0, count <= Limits.ioByteCountMax else {
            throw FileSystemError.invalidArgument("read of \(count) bytes is outside 0...\(Limits.ioByteCountMax)")
        }
        let descriptor = try descriptor(of: file)
        if count <= Limits.brickCachedReadByteCountMax, let cached = readFromCache(descriptor.value, at: offset, count: count) {
            return cached
        }
        return try await run { [allocator] in
            let subject = "open file \(file.id)"
            let start = try Self.offset(offset, subject)
            let buffer = try Self.readFully(descriptor.value, at: start, count: count, allocator, subject)
            if count == Limits.ioByteCountMax, buffer.readableBytes == count {
                // A read as large as a request gets is a stream (a client's read-ahead, a copy, a VM image
                // read): have the kernel start reading what follows now, so the disk works while this reply
                // travels and the client consumes it. Advice only — its failure changes nothing.
                _ = posix_fadvise(
                    descriptor.value, start + off_t(count), off_t(Limits.brickStreamAdviceByteCount),
                    POSIX_FADV_WILLNEED)
            }
            return buffer
        }
    }

    /// `count` bytes at `start` of `descriptor`, read with as many `pread`s as it takes; fewer only at the end of
    /// the file. On the calling thread: callers run it on the I/O pool.
    static func readFully(
        _ descriptor: Int32, at start: off_t, count: Int, _ allocator: ByteBufferAllocator, _ subject: String
    ) throws -> ByteBuffer {
        var buffer = allocator.buffer(capacity: count)
        while buffer.readableBytes < count {
            let position = start + off_t(buffer.readableBytes)
            let wanted = count - buffer.readableBytes
            let got = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: wanted) { pointer in
                try SystemCall.retrying("pread", subject) {
                    Glibc.pread(descriptor, pointer.baseAddress, wanted, position)
                }
            }
            if got == 0 { break }
        }
        return buffer
    }

    /// All `count` bytes at `offset` if the page cache holds them now, read on the calling thread (the brick's
    /// event loop) without waiting for the disk; nil — and the I/O pool reads them — otherwise. A cached read then
    /// costs no trip to a pool thread and back. Anything short of the whole count (the end of the file, a page
    /// not cached, an error, a file system without RWF_NOWAIT) goes to the pool, which reads it properly and
    /// reports what went wrong; the bytes read here are dropped.
    func readFromCache(_ descriptor: Int32, at offset: UInt64, count: Int) -> ByteBuffer? {
        guard count > 0, offset <= UInt64(Int64.max) - UInt64(count), cachedReads.load(ordering: .relaxed) else {
            return nil
        }
        var buffer = allocator.buffer(capacity: count)
        var unsupported = false
        let got = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { pointer in
            let result = cmortar_pread_nowait(descriptor, pointer.baseAddress, count, Int64(offset))
            if result < 0 { unsupported = errno == EOPNOTSUPP || errno == EINVAL }
            return max(0, result)
        }
        if unsupported { cachedReads.store(false, ordering: .relaxed) }
        guard got == count else { return nil }
        cachedReadCount.add(1, ordering: .relaxed)
        return buffer
    }

    /// Writes all of `data` at `offset` and returns its length. A small buffered write is made on the calling
    /// thread (the brick's event loop) unless writes are paused there (``InlineLane``); everything else goes to
    /// the I/O pool.
    public func write(_ data: ByteBuffer, to file: OpenFile, at offset: UInt64, context: OperationContext)
        async throws -> Int
    {
        guard data.readableBytes <= Limits.ioByteCountMax else {
            throw FileSystemError.invalidArgument("write of \(data.readableBytes) bytes exceeds \(Limits.ioByteCountMax)")
        }
        let descriptor = try descriptor(of: file)
        let write: @Sendable () throws -> Int = { [self] in
            let subject = "open file \(file.id)"
            let start = try Self.offset(offset, subject)
            try dropPrivileges(of: descriptor.value, context: context, subject)
            try data.withUnsafeReadableBytes { bytes in
                var written = 0
                while written < bytes.count {
                    let remaining = UnsafeRawBufferPointer(rebasing: bytes[written...])
                    written += try SystemCall.retrying("pwrite", subject) {
                        Glibc.pwrite(descriptor.value, remaining.baseAddress, remaining.count, start + off_t(written))
                    }
                }
            }
            return data.readableBytes
        }
        // Inline only what only copies into the page cache: small, and not to a file whose writes wait for the
        // disk (O_SYNC, O_DSYNC, O_DIRECT).
        guard data.readableBytes <= Limits.brickInlineWriteByteCountMax, !descriptor.writesWaitForDisk else {
            return try await run(write)
        }
        return try await run(inline: writeLane, "file \(file.id)", write)
    }

    public func allocate(
        _ file: OpenFile, at offset: UInt64, length: UInt64, keepSize: Bool, context: OperationContext
    ) async throws {
        try await fileAllocate(
            file, mode: keepSize ? cmortar_falloc_keep_size : 0, offset, length, "fallocate", context)
    }

    /// Deallocates a range, which then reads as zeros; the file keeps its size.
    public func discard(_ file: OpenFile, at offset: UInt64, length: UInt64, context: OperationContext) async throws {
        let mode = cmortar_falloc_punch_hole | cmortar_falloc_keep_size
        try await fileAllocate(file, mode: mode, offset, length, "fallocate(punch hole)", context)
    }

    /// Makes a range read as zeros with space allocated. File systems without ZERO_RANGE get the same result from
    /// punching a hole and allocating it again.
    public func zeroFill(_ file: OpenFile, at offset: UInt64, length: UInt64, context: OperationContext) async throws {
        do {
            try await fileAllocate(
                file, mode: cmortar_falloc_zero_range, offset, length, "fallocate(zero range)", context)
        } catch let error as FileSystemError where error.code == .notSupported {
            try await discard(file, at: offset, length: length, context: context)
            try await allocate(file, at: offset, length: length, keepSize: false, context: context)
        }
    }

    /// The next data or hole at or after `offset`; ENXIO (no more data) passes through to the caller.
    public func seek(_ file: OpenFile, from offset: UInt64, to target: SeekTarget, context: OperationContext)
        async throws -> UInt64
    {
        let descriptor = try descriptor(of: file)
        return try await run {
            let subject = "open file \(file.id)"
            let start = try Self.offset(offset, subject)
            let whence = target == .data ? cmortar_seek_data : cmortar_seek_hole
            let position = try SystemCall.retrying("lseek", subject) { Glibc.lseek(descriptor.value, start, whence) }
            return UInt64(position)
        }
    }

    /// fallocate(2) changes data as a write does (`file_modified`), so it drops the same bits.
    private func fileAllocate(
        _ file: OpenFile, mode: Int32, _ offset: UInt64, _ length: UInt64, _ call: String, _ context: OperationContext
    ) async throws {
        let descriptor = try descriptor(of: file)
        try await run { [self] in
            let subject = "open file \(file.id)"
            let start = try Self.offset(offset, subject)
            let count = try Self.offset(length, subject)
            try dropPrivileges(of: descriptor.value, context: context, subject)
            _ = try SystemCall.retrying(call, subject) { cmortar_fallocate(descriptor.value, mode, Int64(start), Int64(count)) }
        }
    }
}

extension PosixStorage {
    /// Opens the file behind `file` again, read-only, and offers the new descriptor to the brick's descriptor
    /// hand-off (``LocalReadGrants``). A new open rather than a copy of the handle's descriptor: the client gets
    /// an open file description of its own, so nothing it does to it (file status flags, its offset) reaches the
    /// brick's, and it can never write. Only a handle opened for reading gets one — the permission the open was
    /// checked for — and only a regular file.
    public func grantLocalRead(of file: OpenFile, context: OperationContext) async throws -> LocalReadGrant {
        let descriptor = try descriptor(of: file)
        let subject = "open file \(file.id)"
        let status = fcntl(descriptor.value, F_GETFL)  // never blocks: the descriptor's own flags
        guard status >= 0 else { throw FileSystemError.fromErrno("fcntl", subject) }
        guard status & O_ACCMODE != O_WRONLY else {
            throw FileSystemError(.badFileHandle, "\(subject) is not open for reading")
        }
        guard let localReads else {
            throw FileSystemError(.notSupported, "brick \(index.root) hands out no descriptors (it has no local socket)")
        }
        let reopened = try await run {
            let attributes = try SystemCall.fstat(descriptor.value, subject)
            // This file's refusal, not the brick's: EOPNOTSUPP would stop the client asking for any other file.
            guard attributes.st_mode & S_IFMT == S_IFREG else {
                throw FileSystemError(.invalidArgument, "\(subject) is not a regular file: no local reads")
            }
            let reopened = cmortar_open_by_path("/proc/self/fd/\(descriptor.value)", O_RDONLY | O_CLOEXEC | O_NOCTTY, 0)
            guard reopened >= 0 else { throw FileSystemError.fromErrno("open", "\(subject) (again, read-only)") }
            return reopened
        }
        return try localReads.offer(reopened)
    }
}
