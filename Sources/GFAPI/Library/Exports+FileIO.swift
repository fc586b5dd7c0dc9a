import CMortarGFAPI
import Glibc
import Mortar
import MortarCore
import NIOCore

// Reading, writing and seeking. Every successful transfer is the full length asked for, except reads that reach the
// end of the file. As in GlusterFS's library, positioned calls also move the descriptor's position to where they
// ended.

@_cdecl("glfs_read")
public func glfs_read(_ handle: UnsafeMutableRawPointer?, _ buffer: UnsafeMutableRawPointer?, _ count: Int,
                      _ flags: CInt) -> Int {
    let memory = CallerMemory(base: buffer, count: count)
    return DescriptorCall.onFile(handle, returning: -1) { file, _ in
        try checkReadable(memory)
        let data = try await file.read(count: memory.count)
        return try copy(data, into: memory)
    }
}

@_cdecl("glfs_write")
public func glfs_write(_ handle: UnsafeMutableRawPointer?, _ buffer: UnsafeRawPointer?, _ count: Int,
                       _ flags: CInt) -> Int {
    guard let data = bufferOrFail(buffer, count) else { return -1 }
    return DescriptorCall.onFile(handle, returning: -1) { file, _ in
        let written = try await file.write(data)
        try await DescriptorCall.writeThrough(file, flags: flags)
        return written
    }
}

@_cdecl("glfs_pread")
public func glfs_pread(_ handle: UnsafeMutableRawPointer?, _ buffer: UnsafeMutableRawPointer?, _ count: Int,
                       _ offset: Int, _ flags: CInt, _ poststat: UnsafeMutablePointer<mortar_glfs_stat>?) -> Int {
    let memory = CallerMemory(base: buffer, count: count)
    let after = CallerPointer(value: UnsafeMutableRawPointer(poststat))
    return DescriptorCall.onFile(handle, returning: -1) { file, _ in
        try checkReadable(memory)
        let count = try await file.read(into: memory.buffer, at: try position(offset))
        file.setPosition(UInt64(offset) + UInt64(count))
        try await fillStat(after, of: file)
        return count
    }
}

@_cdecl("glfs_pwrite")
public func glfs_pwrite(_ handle: UnsafeMutableRawPointer?, _ buffer: UnsafeRawPointer?, _ count: Int,
                        _ offset: Int, _ flags: CInt, _ prestat: UnsafeMutablePointer<mortar_glfs_stat>?,
                        _ poststat: UnsafeMutablePointer<mortar_glfs_stat>?) -> Int {
    guard let data = bufferOrFail(buffer, count) else { return -1 }
    let (before, after) = (CallerPointer(value: prestat.map(UnsafeMutableRawPointer.init)),
                           CallerPointer(value: poststat.map(UnsafeMutableRawPointer.init)))
    return DescriptorCall.onFile(handle, returning: -1) { file, _ in
        try await fillStat(before, of: file)
        let written = try await file.write(data, at: try position(offset))
        try await DescriptorCall.writeThrough(file, flags: flags)
        file.setPosition(UInt64(offset) + UInt64(written))
        try await fillStat(after, of: file)
        return written
    }
}

@_cdecl("glfs_readv")
public func glfs_readv(_ handle: UnsafeMutableRawPointer?, _ vectors: UnsafePointer<iovec>?, _ count: CInt,
                       _ flags: CInt) -> Int {
    CallBridge.immediate(returning: -1) {
        let parts = try DescriptorCall.vectorList(vectors, count: count)
        let list = VectorList(parts)
        return DescriptorCall.onFile(handle, returning: -1) { file, _ in
            DescriptorCall.scatter(try await file.read(count: list.totalLength), over: list.parts)
        }
    }
}

@_cdecl("glfs_writev")
public func glfs_writev(_ handle: UnsafeMutableRawPointer?, _ vectors: UnsafePointer<iovec>?, _ count: CInt,
                        _ flags: CInt) -> Int {
    CallBridge.immediate(returning: -1) {
        let data = try DescriptorCall.buffer(from: vectors, count: count)
        return DescriptorCall.onFile(handle, returning: -1) { file, _ in
            let written = try await file.write(data)
            try await DescriptorCall.writeThrough(file, flags: flags)
            return written
        }
    }
}

@_cdecl("glfs_preadv")
public func glfs_preadv(_ handle: UnsafeMutableRawPointer?, _ vectors: UnsafePointer<iovec>?, _ count: CInt,
                        _ offset: Int, _ flags: CInt) -> Int {
    CallBridge.immediate(returning: -1) {
        let list = VectorList(try DescriptorCall.vectorList(vectors, count: count))
        return DescriptorCall.onFile(handle, returning: -1) { file, _ in
            let data = try await file.read(count: list.totalLength, at: try position(offset))
            let placed = DescriptorCall.scatter(data, over: list.parts)
            file.setPosition(UInt64(offset) + UInt64(placed))
            return placed
        }
    }
}

@_cdecl("glfs_pwritev")
public func glfs_pwritev(_ handle: UnsafeMutableRawPointer?, _ vectors: UnsafePointer<iovec>?, _ count: CInt,
                         _ offset: Int, _ flags: CInt) -> Int {
    CallBridge.immediate(returning: -1) {
        let data = try DescriptorCall.buffer(from: vectors, count: count)
        return DescriptorCall.onFile(handle, returning: -1) { file, _ in
            let written = try await file.write(data, at: try position(offset))
            try await DescriptorCall.writeThrough(file, flags: flags)
            file.setPosition(UInt64(offset) + UInt64(written))
            return written
        }
    }
}

/// SEEK_SET/CUR/END move the position; SEEK_DATA/SEEK_HOLE ask the brick (SEEK_DATA at or past the end is ENXIO,
/// which tells qemu it may use them).
@_cdecl("glfs_lseek")
public func glfs_lseek(_ handle: UnsafeMutableRawPointer?, _ offset: Int, _ whence: CInt) -> Int {
    DescriptorCall.onFile(handle, returning: -1) { file, _ in
        let origin: File.Whence
        switch whence {
        case SEEK_SET: origin = .start
        case SEEK_CUR: origin = .current
        case SEEK_END: origin = .end
        case CInt(MORTAR_SEEK_DATA): origin = .data
        case CInt(MORTAR_SEEK_HOLE): origin = .hole
        default: throw FileSystemError.invalidArgument("unknown whence \(whence)")
        }
        return Int(try await file.seek(Int64(offset), from: origin))
    }
}

/// The lengths of an iovec array, carried into a task (the array itself stays with the caller).
struct VectorList: @unchecked Sendable {
    let parts: [iovec]
    let totalLength: Int

    init(_ parts: [iovec]) {
        self.parts = parts
        self.totalLength = parts.reduce(0) { $0 + $1.iov_len }
    }
}

func position(_ offset: Int) throws -> UInt64 {
    guard offset >= 0 else { throw FileSystemError.invalidArgument("negative offset \(offset)") }
    return UInt64(offset)
}

func checkReadable(_ memory: CallerMemory) throws {
    guard memory.count >= 0 else { throw FileSystemError.invalidArgument("negative byte count \(memory.count)") }
    guard memory.base != nil || memory.count == 0 else { throw FileSystemError(.badAddress, "buffer is NULL") }
}

/// Copies a read's bytes into the caller's buffer. Never more than the buffer holds: reads return at most what was
/// asked (the protocol client refuses longer replies), and anything else is an error here, not an overflow.
func copy(_ data: ByteBuffer, into memory: CallerMemory) throws -> Int {
    guard data.readableBytes <= memory.count else {
        throw FileSystemError.inputOutput("a read of \(memory.count) bytes returned \(data.readableBytes)")
    }
    return data.withUnsafeReadableBytes { source in
        guard let base = source.baseAddress, let target = memory.base else { return 0 }
        target.copyMemory(from: base, byteCount: source.count)
        return source.count
    }
}

/// The write payload, copied from caller memory; on bad arguments sets errno and returns nil.
func bufferOrFail(_ buffer: UnsafeRawPointer?, _ count: Int) -> ByteBuffer? {
    CallBridge.immediate(returning: nil) { try DescriptorCall.buffer(from: buffer, count: count) }
}

func fillStat(_ target: CallerPointer, of file: File) async throws {
    guard let pointer = target.value else { return }
    CLayouts.fill(pointer.assumingMemoryBound(to: mortar_glfs_stat.self), from: try await file.attributes())
}
