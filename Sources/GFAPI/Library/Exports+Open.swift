import CMortarGFAPI
import Glibc
import Mortar
import MortarCore

// Opening, duplicating and closing descriptors (`glfs_fd_t`).

/// Opens an existing file; O_DIRECT and O_SYNC are accepted. A directory opens read-only, as with open(2) and
/// GlusterFS 10: the descriptor lists it (glfs_readdir…) and answers fstat, fchmod, futimens and the f*xattr
/// calls; opening one for writing is EISDIR.
@_cdecl("glfs_open")
public func glfs_open(_ handle: UnsafeMutableRawPointer?, _ path: UnsafePointer<CChar>?, _ flags: CInt)
    -> UnsafeMutableRawPointer?
{
    openDescriptor(handle, path, flags: flags, permissions: 0)
}

/// Opens `path`, creating it if missing — also when `flags` lacks O_CREAT (fio relies on that). O_EXCL on an
/// existing file is EEXIST; an existing directory is EISDIR; O_TRUNC empties an existing file.
@_cdecl("glfs_creat")
public func glfs_creat(
    _ handle: UnsafeMutableRawPointer?, _ path: UnsafePointer<CChar>?, _ flags: CInt, _ mode: mode_t
) -> UnsafeMutableRawPointer? {
    openDescriptor(handle, path, flags: flags | O_CREAT, permissions: mode & 0o7777)
}

/// A second descriptor for the same open file, sharing its position; the file closes with the last of them.
@_cdecl("glfs_dup")
public func glfs_dup(_ handle: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    CallBridge.immediate(returning: nil) {
        guard let descriptor = Registry.descriptors.lookup(handle) else {
            throw FileSystemError(.badFileHandle, "not an open glfs_fd_t")
        }
        guard case .file(let shared) = descriptor.target else {
            throw FileSystemError.invalidArgument("directory streams cannot be duplicated")
        }
        shared.retain()
        do {
            return try Registry.open(Descriptor(client: descriptor.client, target: .file(shared)))
        } catch {
            CallBridge.blocking(returning: ()) { try await shared.release() }
            throw error
        }
    }
}

/// Waits for the descriptor's calls in flight and their callbacks, then releases it. EBADF if not open.
@_cdecl("glfs_close")
public func glfs_close(_ handle: UnsafeMutableRawPointer?) -> CInt {
    closeDescriptor(handle)
}

@_cdecl("glfs_closedir")
public func glfs_closedir(_ handle: UnsafeMutableRawPointer?) -> CInt {
    closeDescriptor(handle)
}

func closeDescriptor(_ handle: UnsafeMutableRawPointer?) -> CInt {
    guard let descriptor = Registry.descriptors.remove(handle) else {
        mortar_set_errno(EBADF)
        return -1
    }
    descriptor.client.state.withLock { _ = $0.descriptors.remove(UInt(bitPattern: handle)) }
    let insideOwnCallback = mortar_current_callback_descriptor() == UnsafeMutableRawPointer(handle)
    descriptor.activity.close(waitingUntil: insideOwnCallback ? 1 : 0)
    switch descriptor.target {
    case .file(let shared):
        return CallBridge.blocking(returning: -1) {
            try await shared.release()
            return 0
        }
    case .directory:
        return 0
    }
}

private func openDescriptor(
    _ handle: UnsafeMutableRawPointer?, _ path: UnsafePointer<CChar>?, flags: CInt, permissions: UInt32
) -> UnsafeMutableRawPointer? {
    let arguments = CallBridge.immediate(returning: nil as (ClientInstance, String)?) {
        (try clientInstance(handle), try String(cArgument: path, "path"))
    }
    guard let (client, path) = arguments else { return nil }
    let handleBits = CallBridge.blocking(returning: UInt(0)) {
        let volume = try client.volume()
        let file: File
        do {
            file = try await volume.openForLibrary(path, flags: OpenFlags(posixFlags: flags), permissions: permissions)
        } catch let error as FileSystemError where error.code == .isDirectory && opensDirectories(flags) {
            // Samba opens every path it resolves this way (O_RDONLY|O_NONBLOCK, no O_DIRECTORY) before it asks
            // anything about it. Only directories pay for the second walk, and it finds them remembered.
            return UInt(bitPattern: try await openDirectoryStream(client: client, volume: volume, path: path))
        }
        do {
            return UInt(bitPattern: try Registry.open(Descriptor(client: client, target: .file(SharedFile(file)))))
        } catch {
            // Cleanup on the way out: the open's error is the one to report.
            try? await file.close()
            throw error
        }
    }
    return UnsafeMutableRawPointer(bitPattern: handleBits)
}

/// Whether an open with `flags` may give a descriptor on a directory: read-only, neither creating nor truncating
/// (open(2) refuses those on a directory with EISDIR).
private func opensDirectories(_ flags: CInt) -> Bool {
    flags & O_ACCMODE == O_RDONLY && flags & (O_CREAT | O_TRUNC) == 0
}

/// Registers a directory stream on `path` (glfs_opendir, and glfs_open of a directory): ENOTDIR for anything else.
func openDirectoryStream(client: ClientInstance, volume: Volume, path: String) async throws
    -> UnsafeMutableRawPointer
{
    let itself = try await volume.attributes(path)
    guard itself.type == .directory else { throw FileSystemError(.notDirectory, "'\(path)' is not a directory") }
    // ("/.." is the root itself in this library's volumes, as in POSIX: see ClientInstance.connect)
    let parent = try await volume.attributes(path + "/..")
    let stream = DirectoryStream(
        path: path, directory: try await volume.openDirectory(path), itself: itself, parent: parent)
    return try Registry.open(Descriptor(client: client, target: .directory(stream)))
}

extension Volume {
    /// `open(2)` as GlusterFS's library does it for files: only regular files open (directories are EISDIR — the
    /// caller may open them as directories — anything else EINVAL), with or without creating.
    func openForLibrary(_ path: String, flags: OpenFlags, permissions: UInt32) async throws -> File {
        // One path walk where possible: a plain open checks the type it resolved, and an exclusive create fails
        // with EEXIST on anything that exists. Only a non-exclusive create looks first.
        guard flags.contains(.create) else {
            return try await open(path, flags: flags, permissions: permissions, onlyRegularFiles: true)
        }
        // Only ENOENT means there is nothing to check; an I/O error fails the open, not the type check.
        if !flags.contains(.exclusive),
            let existing = try await FileSystemError.nilIfNotFound({ try await attributes(path) })
        {
            try Volume.requireRegular(existing, path: path)
        }
        return try await open(path, flags: flags, permissions: permissions)
    }
}
