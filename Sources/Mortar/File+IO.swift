import MortarCore
import Synchronization
import NIOCore

/// Reading and writing. Requests larger than ``parallelChunkByteCount`` are split into chunks that are sent in
/// parallel on the shared connection, so one large call keeps the pipe full: the brick reads or writes one chunk
/// while another travels, where one large request would do the two in turn.
extension File {
    /// Where unpositioned reads and writes continue (`lseek`).
    public enum Whence: Sendable {
        case start, current, end, data, hole
    }

    static let chunksInFlightMax = 16
    /// The size of the parallel chunks: the largest request. (256 KiB chunks were measured slower on a 2-CPU
    /// machine: 1 MiB sequential reads through libgfapi 342–436 MiB/s against 453–536 — per-request costs won.)
    static let parallelChunkByteCount = Limits.ioByteCountMax

    /// Reads up to `count` bytes at `offset`; fewer only at the end of the file.
    public func read(count: Int, at offset: UInt64) async throws -> ByteBuffer {
        guard count >= 0 else { throw FileSystemError.invalidArgument("negative read count \(count)") }
        let context = try context()
        if let data = try await readingAhead(count: count, at: offset, context: context) {
            return data
        }
        if count <= Self.parallelChunkByteCount {
            return try await volume.stack.read(from: openFile, at: offset, count: count, context: context)
        }
        var result = ByteBuffer()
        result.reserveCapacity(count)
        for var piece in try await readPieces(count: count, at: offset, context: context) {
            result.writeBuffer(&piece)
        }
        return result
    }

    /// Reads into caller memory (the C ABI's path): one copy, from each reply buffer straight into its place in
    /// `buffer`, chunks in parallel.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) async throws -> Int {
        let count = buffer.count
        let context = try context()
        if let data = try await readingAhead(count: count, at: offset, context: context) {
            data.withUnsafeReadableBytes { bytes in
                UnsafeMutableRawBufferPointer(rebasing: buffer[0..<bytes.count]).copyMemory(from: bytes)
            }
            return data.readableBytes
        }
        let destination = CallerBuffer(buffer)
        let lengths = try await forEachChunk(count: count, offset: offset) { chunkOffset, chunkCount in
            let data = try await self.volume.stack.read(
                from: self.openFile, at: chunkOffset, count: chunkCount, context: context)
            return data.withUnsafeReadableBytes { bytes in
                destination.copy(bytes, at: Int(chunkOffset - offset))
                return bytes.count
            }
        }
        var total = 0
        for (index, length) in lengths.enumerated() {
            total += length
            if length < Self.chunkLength(index, of: count) { break }  // end of file
        }
        return total
    }

    /// Caller memory shared by the chunk tasks of one read; each writes only its own range, and the caller keeps
    /// the memory valid until the read returns.
    private struct CallerBuffer: @unchecked Sendable {
        let base: UnsafeMutableRawBufferPointer
        init(_ base: UnsafeMutableRawBufferPointer) { self.base = base }
        func copy(_ bytes: UnsafeRawBufferPointer, at position: Int) {
            UnsafeMutableRawBufferPointer(rebasing: base[position..<(position + bytes.count)]).copyMemory(from: bytes)
        }
    }

    /// The read served through this file's read-ahead window (fetching one in pieces when the reader is
    /// sequential); nil when there is no read-ahead or the read should go to the bricks as it is.
    private func readingAhead(count: Int, at offset: UInt64, context: OperationContext) async throws -> ByteBuffer? {
        guard let readAhead else { return nil }
        return try await readAhead.read(at: offset, count: count) { start, length in
            try await self.readPieces(count: length, at: start, context: context)
        }
    }

    /// `count` bytes at `offset` as the pieces the bricks returned, read in parallel: contiguous, and short only
    /// at the end of the file (pieces after a short one are left out).
    private func readPieces(count: Int, at offset: UInt64, context: OperationContext) async throws -> [ByteBuffer] {
        let pieces = try await forEachChunk(count: count, offset: offset) { chunkOffset, chunkCount in
            try await self.volume.stack.read(from: self.openFile, at: chunkOffset, count: chunkCount, context: context)
        }
        var kept: [ByteBuffer] = []
        for (index, piece) in pieces.enumerated() {
            kept.append(piece)
            if piece.readableBytes < Self.chunkLength(index, of: count) { break }  // end of file
        }
        return kept
    }

    private static func chunkLength(_ index: Int, of count: Int) -> Int {
        min(parallelChunkByteCount, count - index * parallelChunkByteCount)
    }

    /// Writes all of `data` at `offset` and returns its length.
    @discardableResult
    public func write(_ data: ByteBuffer, at offset: UInt64) async throws -> Int {
        let context = try context()
        let count = data.readableBytes
        if count <= Self.parallelChunkByteCount {
            return try await volume.stack.write(data, to: openFile, at: offset, context: context)
        }
        let written = try await forEachChunk(count: count, offset: offset) { chunkOffset, chunkCount in
            let slice = data.getSlice(at: data.readerIndex + Int(chunkOffset - offset), length: chunkCount)!
            return try await self.volume.stack.write(slice, to: self.openFile, at: chunkOffset, context: context)
        }
        return written.reduce(0, +)
    }

    @discardableResult
    public func write(_ bytes: some Collection<UInt8>, at offset: UInt64) async throws -> Int {
        try await write(ByteBuffer(bytes: bytes), at: offset)
    }

    /// Reads from the current position and advances it.
    public func read(count: Int) async throws -> ByteBuffer {
        let offset = position.withLock { $0 }
        let data = try await read(count: count, at: offset)
        position.withLock { $0 = offset + UInt64(data.readableBytes) }
        return data
    }

    /// Writes at the current position (at the end with `.append`) and advances it.
    @discardableResult
    public func write(_ data: ByteBuffer) async throws -> Int {
        let offset = position.withLock { $0 }
        let written = try await write(data, at: offset)
        if flags.contains(.append) {
            let size = try await attributes().size
            position.withLock { $0 = size }
        } else {
            position.withLock { $0 = offset + UInt64(written) }
        }
        return written
    }

    /// Moves the position; `.data`/`.hole` find the next data or hole at or after `offset` (ENXIO past the end).
    @discardableResult
    public func seek(_ offset: Int64, from whence: Whence) async throws -> UInt64 {
        let base: Int64
        switch whence {
        case .start: base = 0
        case .current:
            let current = position.withLock { $0 }
            guard let at = Int64(exactly: current) else {
                throw FileSystemError(.valueOverflow, "the position in '\(path)' is \(current)")
            }
            base = at
        case .end:
            // Sizes and offsets come from a brick: one past what an off_t holds is an error, not a trap.
            let size = try await attributes().size
            guard let end = Int64(exactly: size) else {
                throw FileSystemError(.valueOverflow, "'\(path)' reports a size of \(size) bytes")
            }
            base = end
        case .data, .hole:
            guard offset >= 0 else { throw FileSystemError.invalidArgument("negative seek offset \(offset)") }
            let found = try await volume.stack.seek(
                openFile, from: UInt64(offset), to: whence == .data ? .data : .hole, context: context())
            guard found <= UInt64(Int64.max) else {
                throw FileSystemError(.valueOverflow, "seek in '\(path)' found offset \(found)")
            }
            position.withLock { $0 = found }
            return found
        }
        let (target, overflow) = base.addingReportingOverflow(offset)
        guard !overflow, target >= 0 else {
            throw FileSystemError.invalidArgument("seek to a negative or overflowing offset")
        }
        position.withLock { $0 = UInt64(target) }
        return UInt64(target)
    }

    public var currentPosition: UInt64 { position.withLock { $0 } }

    /// Runs `body` for each chunk of a large request, at most ``chunksInFlightMax`` at a time, and returns the
    /// results in chunk order.
    private func forEachChunk<T: Sendable>(
        count: Int, offset: UInt64, _ body: @escaping @Sendable (UInt64, Int) async throws -> T
    ) async throws -> [T] {
        let chunkSize = Self.parallelChunkByteCount
        let chunkCount = max(1, (count + chunkSize - 1) / chunkSize)
        return try await withThrowingTaskGroup(of: (Int, T).self) { group in
            var results = [T?](repeating: nil, count: chunkCount)
            var nextChunk = 0
            func addChunk() {
                let index = nextChunk
                nextChunk += 1
                let chunkOffset = offset + UInt64(index * chunkSize)
                let length = min(chunkSize, count - index * chunkSize)
                group.addTask { (index, try await body(chunkOffset, length)) }
            }
            while nextChunk < min(chunkCount, Self.chunksInFlightMax) { addChunk() }
            while let (index, value) = try await group.next() {
                results[index] = value
                if nextChunk < chunkCount { addChunk() }
            }
            return results.map { $0! }
        }
    }
}
