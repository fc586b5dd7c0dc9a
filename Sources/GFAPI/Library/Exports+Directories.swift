import CMortarGFAPI
import Glibc
import Mortar
import MortarCore

// Directory streams, the working directory and path canonicalisation.

@_cdecl("glfs_opendir")
public func glfs_opendir(_ handle: UnsafeMutableRawPointer?, _ path: UnsafePointer<CChar>?)
    -> UnsafeMutableRawPointer?
{
    guard let client = Registry.clients.lookup(handle) else {
        mortar_set_errno(EINVAL)
        return nil
    }
    let bits = onPath(handle, path, returning: UInt(0)) { volume, path in
        UInt(bitPattern: try await openDirectoryStream(client: client, volume: volume, path: path))
    }
    return UnsafeMutableRawPointer(bitPattern: bits)
}

/// Fills `entry` with the next entry and points `*result` at it; at the end `*result` is NULL. Returns 0, or -1
/// with errno.
@_cdecl("glfs_readdir_r")
public func glfs_readdir_r(_ handle: UnsafeMutableRawPointer?, _ entry: UnsafeMutablePointer<dirent>?,
                           _ result: UnsafeMutablePointer<UnsafeMutablePointer<dirent>?>?) -> CInt {
    readDirectoryEntry(handle, entry, result, stat: nil)
}

@_cdecl("glfs_readdirplus_r")
public func glfs_readdirplus_r(_ handle: UnsafeMutableRawPointer?, _ stat: UnsafeMutablePointer<stat>?,
                               _ entry: UnsafeMutablePointer<dirent>?,
                               _ result: UnsafeMutablePointer<UnsafeMutablePointer<dirent>?>?) -> CInt {
    readDirectoryEntry(handle, entry, result, stat: stat)
}

/// The next entry in a buffer of the stream's own (valid until the next call on it), or NULL at the end (errno
/// unchanged) or on error (errno set).
@_cdecl("glfs_readdir")
public func glfs_readdir(_ handle: UnsafeMutableRawPointer?) -> UnsafeMutablePointer<dirent>? {
    streamEntry(handle, stat: nil)
}

@_cdecl("glfs_readdirplus")
public func glfs_readdirplus(_ handle: UnsafeMutableRawPointer?, _ stat: UnsafeMutablePointer<stat>?)
    -> UnsafeMutablePointer<dirent>?
{
    streamEntry(handle, stat: stat)
}

@_cdecl("glfs_telldir")
public func glfs_telldir(_ handle: UnsafeMutableRawPointer?) -> Int {
    CallBridge.immediate(returning: -1) {
        guard let descriptor = Registry.descriptors.lookup(handle) else {
            throw FileSystemError(.badFileHandle, "not an open glfs_fd_t")
        }
        return try descriptor.directory().tell()
    }
}

@_cdecl("glfs_seekdir")
public func glfs_seekdir(_ handle: UnsafeMutableRawPointer?, _ offset: Int) {
    // glfs_seekdir returns nothing: an unknown handle has no position to set.
    guard let stream = try? Registry.descriptors.lookup(handle)?.directory() else { return }
    stream.seek(to: offset)
}

@_cdecl("glfs_chdir")
public func glfs_chdir(_ handle: UnsafeMutableRawPointer?, _ path: UnsafePointer<CChar>?) -> CInt {
    onPath(handle, path) { volume, path in
        try await volume.changeDirectory(path)
        return 0
    }
}

/// Makes an open directory the working directory (by the path it was opened with).
@_cdecl("glfs_fchdir")
public func glfs_fchdir(_ handle: UnsafeMutableRawPointer?) -> CInt {
    DescriptorCall.onDirectory(handle, returning: -1) { stream, descriptor in
        try await descriptor.client.volume().changeDirectory(stream.path)
        return 0
    }
}

/// Copies the working directory into `buffer`; ERANGE if it does not fit, EINVAL for a NULL buffer.
@_cdecl("glfs_getcwd")
public func glfs_getcwd(_ handle: UnsafeMutableRawPointer?, _ buffer: UnsafeMutablePointer<CChar>?, _ size: Int)
    -> UnsafeMutablePointer<CChar>?
{
    CallBridge.immediate(returning: nil) {
        let volume = try clientInstance(handle).volume()
        guard let buffer, size > 0 else { throw FileSystemError.invalidArgument("getcwd buffer is NULL or empty") }
        let path = Array(volume.workingDirectory.utf8CString)
        guard path.count <= size else {
            throw FileSystemError(.resultOutOfRange, "working directory needs \(path.count) bytes")
        }
        path.withUnsafeBufferPointer { buffer.update(from: $0.baseAddress!, count: path.count) }
        return buffer
    }
}

/// The canonical path (symbolic links, `.` and `..` resolved). With `resolved` NULL the result is allocated and
/// must be released with glfs_free (or free); otherwise `resolved` must hold PATH_MAX bytes.
@_cdecl("glfs_realpath")
public func glfs_realpath(_ handle: UnsafeMutableRawPointer?, _ path: UnsafePointer<CChar>?,
                          _ resolved: UnsafeMutablePointer<CChar>?) -> UnsafeMutablePointer<CChar>? {
    let canonical = onPath(handle, path, returning: nil as String?) { volume, path in
        try await volume.canonicalPath(path)
    }
    guard let canonical else { return nil }
    let bytes = Array(canonical.utf8CString)
    guard bytes.count <= Int(PATH_MAX) else {
        mortar_set_errno(ENAMETOOLONG)
        return nil
    }
    guard let target = resolved ?? malloc(bytes.count)?.assumingMemoryBound(to: CChar.self) else {
        mortar_set_errno(ENOMEM)
        return nil
    }
    bytes.withUnsafeBufferPointer { target.update(from: $0.baseAddress!, count: bytes.count) }
    return target
}

/// Releases memory the library allocated for the caller (glfs_realpath's result).
@_cdecl("glfs_free")
public func glfs_free(_ pointer: UnsafeMutableRawPointer?) {
    free(pointer)
}

private func readDirectoryEntry(_ handle: UnsafeMutableRawPointer?, _ entry: UnsafeMutablePointer<dirent>?,
                                _ result: UnsafeMutablePointer<UnsafeMutablePointer<dirent>?>?,
                                stat: UnsafeMutablePointer<stat>?) -> CInt {
    guard let entry, let result else {
        mortar_set_errno(EINVAL)
        return -1
    }
    let found = nextEntry(handle, into: entry, stat: stat)
    switch found {
    case .some(true): result.pointee = entry
    case .some(false): result.pointee = nil
    case .none:
        result.pointee = nil
        return -1
    }
    return 0
}

private func streamEntry(_ handle: UnsafeMutableRawPointer?, stat: UnsafeMutablePointer<stat>?)
    -> UnsafeMutablePointer<dirent>?
{
    // An unknown handle: answered with EBADF.
    guard let stream = try? Registry.descriptors.lookup(handle)?.directory() else {
        mortar_set_errno(EBADF)
        return nil
    }
    return nextEntry(handle, into: stream.entryBuffer, stat: stat) == true ? stream.entryBuffer : nil
}

/// Reads the next entry into `entry` (and its attributes into `stat`): true, false at the end, nil on error.
private func nextEntry(_ handle: UnsafeMutableRawPointer?, into entry: UnsafeMutablePointer<dirent>,
                       stat: UnsafeMutablePointer<stat>?) -> Bool? {
    let output = (entry: CallerPointer(value: UnsafeMutableRawPointer(entry)),
                  stat: CallerPointer(value: UnsafeMutableRawPointer(stat)))
    return DescriptorCall.onDirectory(handle, returning: nil as Bool?) { stream, _ in
        guard let next = try await stream.next() else { return false }
        CLayouts.fill(output.entry.value!.assumingMemoryBound(to: dirent.self), from: next)
        if let statOutput = output.stat.value {
            CLayouts.fill(statOutput.assumingMemoryBound(to: Glibc.stat.self), from: next.attributes,
                          device: deviceNumber(of: stream.directory.volume))
        }
        return true
    }
}
