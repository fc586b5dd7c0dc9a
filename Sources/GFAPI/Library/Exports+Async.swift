import CMortarGFAPI
import Glibc
import Mortar
import MortarCore

// The asynchronous calls (GFAPI_6.0 forms). Each returns 0 and later calls `callback` exactly once from a library
// thread — with the full length (reads: what was read), 0 for the calls that move no data, or -1 with errno set in
// the callback's thread — or returns -1 with errno and never calls back. Write payloads are copied when the call
// is made; read buffers and iovec memory must stay valid until the callback.

@_cdecl("glfs_read_async")
public func glfs_read_async(_ handle: UnsafeMutableRawPointer?, _ buffer: UnsafeMutableRawPointer?, _ count: Int,
                            _ flags: CInt, _ callback: mortar_glfs_io_callback?, _ data: UnsafeMutableRawPointer?)
    -> CInt
{
    let memory = CallerMemory(base: buffer, count: count)
    return DescriptorCall.submit(handle, callback: callback, data: data) { file in
        try checkReadable(memory)
        return try copy(try await file.read(count: memory.count), into: memory)
    }
}

@_cdecl("glfs_write_async")
public func glfs_write_async(_ handle: UnsafeMutableRawPointer?, _ buffer: UnsafeRawPointer?, _ count: Int,
                             _ flags: CInt, _ callback: mortar_glfs_io_callback?,
                             _ data: UnsafeMutableRawPointer?) -> CInt {
    guard let payload = bufferOrFail(buffer, count) else { return -1 }
    return DescriptorCall.submit(handle, callback: callback, data: data) { file in
        let written = try await file.write(payload)
        try await DescriptorCall.writeThrough(file, flags: flags)
        return written
    }
}

@_cdecl("glfs_pread_async")
public func glfs_pread_async(_ handle: UnsafeMutableRawPointer?, _ buffer: UnsafeMutableRawPointer?, _ count: Int,
                             _ offset: Int, _ flags: CInt, _ callback: mortar_glfs_io_callback?,
                             _ data: UnsafeMutableRawPointer?) -> CInt {
    let memory = CallerMemory(base: buffer, count: count)
    return DescriptorCall.submit(handle, callback: callback, data: data) { file in
        try checkReadable(memory)
        let count = try await file.read(into: memory.buffer, at: try position(offset))
        file.setPosition(UInt64(offset) + UInt64(count))
        return count
    }
}

/// `count` is an `int` in this one call (GlusterFS's prototype); only its low 32 bits are defined.
@_cdecl("glfs_pwrite_async")
public func glfs_pwrite_async(_ handle: UnsafeMutableRawPointer?, _ buffer: UnsafeRawPointer?, _ count: CInt,
                              _ offset: Int, _ flags: CInt, _ callback: mortar_glfs_io_callback?,
                              _ data: UnsafeMutableRawPointer?) -> CInt {
    guard let payload = bufferOrFail(buffer, Int(count)) else { return -1 }
    return DescriptorCall.submit(handle, callback: callback, data: data) { file in
        let written = try await file.write(payload, at: try position(offset))
        try await DescriptorCall.writeThrough(file, flags: flags)
        file.setPosition(UInt64(offset) + UInt64(written))
        return written
    }
}

@_cdecl("glfs_readv_async")
public func glfs_readv_async(_ handle: UnsafeMutableRawPointer?, _ vectors: UnsafePointer<iovec>?, _ count: CInt,
                             _ flags: CInt, _ callback: mortar_glfs_io_callback?, _ data: UnsafeMutableRawPointer?)
    -> CInt
{
    CallBridge.immediate(returning: -1) {
        let list = VectorList(try DescriptorCall.vectorList(vectors, count: count))
        return DescriptorCall.submit(handle, callback: callback, data: data) { file in
            DescriptorCall.scatter(try await file.read(count: list.totalLength), over: list.parts)
        }
    }
}

@_cdecl("glfs_writev_async")
public func glfs_writev_async(_ handle: UnsafeMutableRawPointer?, _ vectors: UnsafePointer<iovec>?, _ count: CInt,
                              _ flags: CInt, _ callback: mortar_glfs_io_callback?,
                              _ data: UnsafeMutableRawPointer?) -> CInt {
    CallBridge.immediate(returning: -1) {
        let payload = try DescriptorCall.buffer(from: vectors, count: count)
        return DescriptorCall.submit(handle, callback: callback, data: data) { file in
            let written = try await file.write(payload)
            try await DescriptorCall.writeThrough(file, flags: flags)
            return written
        }
    }
}

@_cdecl("glfs_preadv_async")
public func glfs_preadv_async(_ handle: UnsafeMutableRawPointer?, _ vectors: UnsafePointer<iovec>?, _ count: CInt,
                              _ offset: Int, _ flags: CInt, _ callback: mortar_glfs_io_callback?,
                              _ data: UnsafeMutableRawPointer?) -> CInt {
    CallBridge.immediate(returning: -1) {
        let list = VectorList(try DescriptorCall.vectorList(vectors, count: count))
        return DescriptorCall.submit(handle, callback: callback, data: data) { file in
            let read = try await file.read(count: list.totalLength, at: try position(offset))
            let placed = DescriptorCall.scatter(read, over: list.parts)
            file.setPosition(UInt64(offset) + UInt64(placed))
            return placed
        }
    }
}

@_cdecl("glfs_pwritev_async")
public func glfs_pwritev_async(_ handle: UnsafeMutableRawPointer?, _ vectors: UnsafePointer<iovec>?, _ count: CInt,
                               _ offset: Int, _ flags: CInt, _ callback: mortar_glfs_io_callback?,
                               _ data: UnsafeMutableRawPointer?) -> CInt {
    CallBridge.immediate(returning: -1) {
        let payload = try DescriptorCall.buffer(from: vectors, count: count)
        return DescriptorCall.submit(handle, callback: callback, data: data) { file in
            let written = try await file.write(payload, at: try position(offset))
            try await DescriptorCall.writeThrough(file, flags: flags)
            file.setPosition(UInt64(offset) + UInt64(written))
            return written
        }
    }
}

@_cdecl("glfs_fsync_async")
public func glfs_fsync_async(_ handle: UnsafeMutableRawPointer?, _ callback: mortar_glfs_io_callback?,
                             _ data: UnsafeMutableRawPointer?) -> CInt {
    DescriptorCall.submit(handle, callback: callback, data: data) { file in
        try await file.synchronize(dataOnly: false)
        return 0
    }
}

@_cdecl("glfs_fdatasync_async")
public func glfs_fdatasync_async(_ handle: UnsafeMutableRawPointer?, _ callback: mortar_glfs_io_callback?,
                                 _ data: UnsafeMutableRawPointer?) -> CInt {
    DescriptorCall.submit(handle, callback: callback, data: data) { file in
        try await file.synchronize(dataOnly: true)
        return 0
    }
}

@_cdecl("glfs_ftruncate_async")
public func glfs_ftruncate_async(_ handle: UnsafeMutableRawPointer?, _ length: Int,
                                 _ callback: mortar_glfs_io_callback?, _ data: UnsafeMutableRawPointer?) -> CInt {
    DescriptorCall.submit(handle, callback: callback, data: data) { file in
        try await file.truncate(to: try position(length))
        return 0
    }
}

/// `length` is a `size_t` here (GlusterFS's prototype), unlike zerofill's `off_t`.
@_cdecl("glfs_discard_async")
public func glfs_discard_async(_ handle: UnsafeMutableRawPointer?, _ offset: Int, _ length: Int,
                               _ callback: mortar_glfs_io_callback?, _ data: UnsafeMutableRawPointer?) -> CInt {
    DescriptorCall.submit(handle, callback: callback, data: data) { file in
        try await file.discard(at: try position(offset), length: try byteCount(length))
        return 0
    }
}

@_cdecl("glfs_zerofill_async")
public func glfs_zerofill_async(_ handle: UnsafeMutableRawPointer?, _ offset: Int, _ length: Int,
                                _ callback: mortar_glfs_io_callback?, _ data: UnsafeMutableRawPointer?) -> CInt {
    DescriptorCall.submit(handle, callback: callback, data: data) { file in
        try await file.zeroFill(at: try position(offset), length: try byteCount(length))
        return 0
    }
}
