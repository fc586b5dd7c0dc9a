import CMortarGFAPI
import Glibc
import Mortar
import MortarCore

// Calls on paths. Paths are volume paths: absolute from the volume root, or relative to the working directory
// (the root until glfs_chdir); "." alone is the working directory.

@_cdecl("glfs_stat")
public func glfs_stat(_ handle: UnsafeMutableRawPointer?, _ path: UnsafePointer<CChar>?,
                      _ target: UnsafeMutablePointer<stat>?) -> CInt {
    statPath(handle, path, target, followLast: true)
}

@_cdecl("glfs_lstat")
public func glfs_lstat(_ handle: UnsafeMutableRawPointer?, _ path: UnsafePointer<CChar>?,
                       _ target: UnsafeMutablePointer<stat>?) -> CInt {
    statPath(handle, path, target, followLast: false)
}

@_cdecl("glfs_access")
public func glfs_access(_ handle: UnsafeMutableRawPointer?, _ path: UnsafePointer<CChar>?, _ mode: CInt) -> CInt {
    onPath(handle, path) { volume, path in
        guard mode & ~(R_OK | W_OK | X_OK) == 0 else { throw FileSystemError.invalidArgument("access mode \(mode)") }
        try await volume.checkAccess(path, AccessMask(rawValue: UInt32(mode)))
        return 0
    }
}

@_cdecl("glfs_statvfs")
public func glfs_statvfs(_ handle: UnsafeMutableRawPointer?, _ path: UnsafePointer<CChar>?,
                         _ target: UnsafeMutablePointer<statvfs>?) -> CInt {
    let output = CallerPointer(value: UnsafeMutableRawPointer(target))
    return onPath(handle, path) { volume, path in
        guard let output = output.value else { throw FileSystemError(.badAddress, "statvfs buffer is NULL") }
        CLayouts.fill(output.assumingMemoryBound(to: statvfs.self), from: try await volume.fileSystemStatistics(path))
        return 0
    }
}

@_cdecl("glfs_unlink")
public func glfs_unlink(_ handle: UnsafeMutableRawPointer?, _ path: UnsafePointer<CChar>?) -> CInt {
    onPath(handle, path) { volume, path in
        try await volume.unlink(path)
        return 0
    }
}

@_cdecl("glfs_mkdir")
public func glfs_mkdir(_ handle: UnsafeMutableRawPointer?, _ path: UnsafePointer<CChar>?, _ mode: mode_t) -> CInt {
    onPath(handle, path) { volume, path in
        _ = try await volume.makeDirectory(path, permissions: mode & 0o7777)
        return 0
    }
}

@_cdecl("glfs_rmdir")
public func glfs_rmdir(_ handle: UnsafeMutableRawPointer?, _ path: UnsafePointer<CChar>?) -> CInt {
    onPath(handle, path) { volume, path in
        try await volume.removeDirectory(path)
        return 0
    }
}

/// FIFOs, sockets, regular files and device nodes (root only: the brick answers EPERM to anyone else).
@_cdecl("glfs_mknod")
public func glfs_mknod(_ handle: UnsafeMutableRawPointer?, _ path: UnsafePointer<CChar>?, _ mode: mode_t,
                       _ device: dev_t) -> CInt {
    onPath(handle, path) { volume, path in
        let type = mode & S_IFMT == 0 ? FileType.regular : FileType(modeBits: mode & S_IFMT)
        guard let type else { throw FileSystemError.invalidArgument("unknown file type in mode \(mode)") }
        switch type {
        case .fifo, .socket, .regular, .characterDevice, .blockDevice: break
        case .directory, .symbolicLink:
            throw FileSystemError.invalidArgument("mknod cannot make a directory or symbolic link")
        }
        _ = try await volume.makeNode(path, type: type, permissions: mode & 0o7777, device: UInt64(device))
        return 0
    }
}

@_cdecl("glfs_rename")
public func glfs_rename(_ handle: UnsafeMutableRawPointer?, _ source: UnsafePointer<CChar>?,
                        _ target: UnsafePointer<CChar>?) -> CInt {
    onPaths(handle, source, target) { volume, source, target in
        try await volume.rename(source, to: target)
        return 0
    }
}

@_cdecl("glfs_link")
public func glfs_link(_ handle: UnsafeMutableRawPointer?, _ existing: UnsafePointer<CChar>?,
                      _ newPath: UnsafePointer<CChar>?) -> CInt {
    onPaths(handle, existing, newPath) { volume, existing, newPath in
        _ = try await volume.link(existing, as: newPath)
        return 0
    }
}

/// Makes `linkPath` a symbolic link whose text is `target` (symlink(2)'s argument order).
@_cdecl("glfs_symlink")
public func glfs_symlink(_ handle: UnsafeMutableRawPointer?, _ target: UnsafePointer<CChar>?,
                         _ linkPath: UnsafePointer<CChar>?) -> CInt {
    onPaths(handle, target, linkPath) { volume, target, linkPath in
        _ = try await volume.makeSymbolicLink(linkPath, target: target)
        return 0
    }
}

/// Copies the link's text without a terminating NUL, truncated to `size`; returns the bytes copied.
@_cdecl("glfs_readlink")
public func glfs_readlink(_ handle: UnsafeMutableRawPointer?, _ path: UnsafePointer<CChar>?,
                          _ buffer: UnsafeMutablePointer<CChar>?, _ size: Int) -> CInt {
    let memory = CallerMemory(base: UnsafeMutableRawPointer(buffer), count: size)
    return onPath(handle, path) { volume, path in
        guard let base = memory.base, memory.count > 0 else {
            throw FileSystemError.invalidArgument("readlink buffer is NULL or empty")
        }
        let text = Array(try await volume.readSymbolicLink(path).utf8.prefix(memory.count))
        text.withUnsafeBytes { if let source = $0.baseAddress { base.copyMemory(from: source, byteCount: $0.count) } }
        return CInt(text.count)
    }
}

@_cdecl("glfs_truncate")
public func glfs_truncate(_ handle: UnsafeMutableRawPointer?, _ path: UnsafePointer<CChar>?, _ length: Int) -> CInt {
    onPath(handle, path) { volume, path in
        try await volume.truncate(path, to: try position(length))
        return 0
    }
}

/// Runs `body` with the connected volume and a path argument: EINVAL for a handle that is not a `glfs_t`.
func onPath(
    _ handle: UnsafeMutableRawPointer?, _ path: UnsafePointer<CChar>?,
    _ body: @escaping @Sendable (Volume, String) async throws -> CInt
) -> CInt {
    onPath(handle, path, returning: -1, body)
}

func onPath<T: Sendable>(
    _ handle: UnsafeMutableRawPointer?, _ path: UnsafePointer<CChar>?, returning failure: T,
    _ body: @escaping @Sendable (Volume, String) async throws -> T
) -> T {
    let arguments = CallBridge.immediate(returning: nil as (ClientInstance, String)?) {
        (try clientInstance(handle), try String(cArgument: path, "path"))
    }
    guard let (client, path) = arguments else { return failure }
    return CallBridge.blocking(returning: failure) { try await body(try client.volume(), path) }
}

private func onPaths(
    _ handle: UnsafeMutableRawPointer?, _ first: UnsafePointer<CChar>?, _ second: UnsafePointer<CChar>?,
    _ body: @escaping @Sendable (Volume, String, String) async throws -> CInt
) -> CInt {
    let arguments = CallBridge.immediate(returning: nil as (ClientInstance, String, String)?) {
        (try clientInstance(handle), try String(cArgument: first, "path"), try String(cArgument: second, "path"))
    }
    guard let (client, first, second) = arguments else { return -1 }
    return CallBridge.blocking(returning: -1) { try await body(try client.volume(), first, second) }
}

private func statPath(_ handle: UnsafeMutableRawPointer?, _ path: UnsafePointer<CChar>?,
                      _ target: UnsafeMutablePointer<stat>?, followLast: Bool) -> CInt {
    let output = CallerPointer(value: UnsafeMutableRawPointer(target))
    return onPath(handle, path) { volume, path in
        guard let output = output.value else { throw FileSystemError(.badAddress, "stat buffer is NULL") }
        let attributes = followLast ? try await volume.attributes(path) : try await volume.linkAttributes(path)
        CLayouts.fill(output.assumingMemoryBound(to: stat.self), from: attributes, device: deviceNumber(of: volume))
        return 0
    }
}
