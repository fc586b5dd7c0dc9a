import MortarCore
import Synchronization
import NIOCore

/// Reading and writing. Requests larger than `Limits.ioByteCountMax` are split into chunks that are sent in
/// parallel on the shared connection, so one large call keeps the pipe full.
extension File {
    /// Where unpositioned reads and writes continue (`lseek`).
    public enum Whence: Sendable {
        case start, current, end, data, hole
    }

    static let chunksInFlightMax = 16

    /// Reads up to `count` bytes at `offset`; fewer only at the end of the file.
    public func read(count: Int, at offset: UInt64) async throws -> ByteBuffer {
        guard count >= 0 else { throw FileSystemError.invalidArgument("negative read count \(count)") }
        let context = try context()
        if count <= Limits.ioByteCountMax {
            return try await volume.stack.read(from: openFile, at: offset, count: count, context: context)
        }
        var chunks = try await forEachChunk(count: count, offset: offset) { chunkOffset, chunkCount in
            try await self.volume.stack.read(from: self.openFile, at: chunkOffset, count: chunkCount, context: context)
        }
        var result = ByteBuffer()
        result.reserveCapacity(count)
        for index in chunks.indices {
            let full = chunks[index].readableBytes == min(Limits.ioByteCountMax, count - index * Limits.ioByteCountMax)
            result.writeBuffer(&chunks[index])
            if !full { break }  // end of file: later chunks can only be empty
        }
        return result
    }

    /// Reads into caller memory (the C ABI's path): one copy, from the reply buffer into `buffer`.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) async throws -> Int {
        let data = try await read(count: buffer.count, at: offset)
        return data.withUnsafeReadableBytes { bytes in
            buffer.copyMemory(from: bytes)
            return bytes.count
        }
    }

    /// Writes all of `data` at `offset` and returns its length.
    @discardableResult
    public func write(_ data: ByteBuffer, at offset: UInt64) async throws -> Int {
        let context = try context()
        let count = data.readableBytes
        if count <= Limits.ioByteCountMax {
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
        case .current: base = Int64(position.withLock { $0 })
        case .end: base = Int64(try await attributes().size)
        case .data, .hole:
            guard offset >= 0 else { throw FileSystemError.invalidArgument("negative seek offset \(offset)") }
            let found = try await volume.stack.seek(
                openFile, from: UInt64(offset), to: whence == .data ? .data : .hole, context: context())
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
        let chunkSize = Limits.ioByteCountMax
        let chunkCount = (count + chunkSize - 1) / chunkSize
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
