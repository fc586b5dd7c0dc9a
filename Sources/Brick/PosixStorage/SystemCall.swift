import CMortarLinux
import Glibc
import MortarCore

/// An object on the brick, reached relative to an open descriptor rather than by an absolute path: the entry
/// `name` in the directory `directory`, or, with `name` nil, the open object `directory` itself.
///
/// Why: a brick path is the brick directory's own path plus the volume path, and the kernel refuses paths past
/// PATH_MAX, so a volume path near 4096 bytes would fail on any brick not at `/`. Relative to a descriptor, the
/// kernel only ever sees one name (or an index entry's fixed-length `XX/YY/<fileid>`).
struct ObjectPath: Sendable {
    let directory: Int32
    let name: String?

    /// The name for the *at calls; "" (with AT_EMPTY_PATH where a call needs it) for the descriptor itself.
    var relativeName: String { name ?? "" }

    /// `/proc/self/fd/N/name`, for the calls that have no *at form (extended attributes by name, truncate); its
    /// length depends only on the name's.
    var procPath: String { "/proc/self/fd/\(directory)" + (name.map { "/" + $0 } ?? "") }
}

/// Thin wrappers over the system calls the storage makes. Each retries EINTR and turns a failure into a
/// ``FileSystemError`` that names the call and the object (a volume-relative path or a FileID), so no errno is
/// ever lost or turned into a crash.
enum SystemCall {
    /// The extended attribute that carries an object's FileID on the brick.
    static let idAttributeName = "trusted.mortar.id"

    /// Runs `body` until it returns something other than -1 with EINTR; -1 with any other errno throws.
    static func retrying<Result: SignedInteger>(
        _ call: String, _ subject: String, _ body: () -> Result
    ) throws -> Result {
        while true {
            let result = body()
            if result != -1 { return result }
            let error = errno
            if error == EINTR { continue }
            throw FileSystemError.fromErrno(call, subject, errno: error)
        }
    }

    /// The object's status, never following a final symbolic link.
    static func lstat(_ object: ObjectPath, _ subject: String) throws -> stat {
        guard let name = object.name else { return try fstat(object.directory, subject) }
        var status = stat()
        _ = try retrying("fstatat", subject) { Glibc.fstatat(object.directory, name, &status, AT_SYMLINK_NOFOLLOW) }
        return status
    }

    static func fstat(_ descriptor: Int32, _ subject: String) throws -> stat {
        var status = stat()
        _ = try retrying("fstat", subject) { Glibc.fstat(descriptor, &status) }
        return status
    }

    /// Opens an absolute path: only the brick directory itself, once, when the brick starts.
    static func open(_ path: String, flags: Int32, permissions: UInt32 = 0, _ subject: String) throws -> Int32 {
        try retrying("open", subject) { cmortar_open_by_path(path, flags | O_CLOEXEC, permissions) }
    }

    /// Opens an object; with no name, the open directory itself again (".").
    static func open(_ object: ObjectPath, flags: Int32, permissions: UInt32 = 0, _ subject: String) throws -> Int32 {
        let name = object.name ?? "."
        return try retrying("openat", subject) {
            cmortar_openat(object.directory, name, flags | O_CLOEXEC, permissions)
        }
    }

    /// Closes a descriptor. EINTR is not retried: on Linux the descriptor is gone either way.
    static func close(_ descriptor: Int32) {
        _ = Glibc.close(descriptor)
    }

    static func readLink(_ object: ObjectPath, _ subject: String) throws -> String {
        var buffer = [UInt8](repeating: 0, count: Int(PATH_MAX) + 1)
        let name = object.relativeName
        let count = try retrying("readlinkat", subject) {
            buffer.withUnsafeMutableBufferPointer { pointer in
                pointer.baseAddress.map { Glibc.readlinkat(object.directory, name, $0, pointer.count - 1) } ?? -1
            }
        }
        return String(decoding: buffer[0..<count], as: UTF8.self)
    }

    static func makeDirectory(_ object: ObjectPath, permissions: UInt32, _ subject: String) throws {
        let name = object.relativeName
        _ = try retrying("mkdirat", subject) { Glibc.mkdirat(object.directory, name, permissions) }
    }

    /// Creates a directory unless it exists already (used for the hidden index).
    static func makeDirectoryIfMissing(_ object: ObjectPath, _ subject: String) throws {
        do {
            try makeDirectory(object, permissions: 0o700, subject)
        } catch let error as FileSystemError where error.code == .exists {
            return
        }
    }

    static func removeDirectory(_ object: ObjectPath, _ subject: String) throws {
        let name = object.relativeName
        _ = try retrying("unlinkat(AT_REMOVEDIR)", subject) { Glibc.unlinkat(object.directory, name, AT_REMOVEDIR) }
    }

    static func unlink(_ object: ObjectPath, _ subject: String) throws {
        let name = object.relativeName
        _ = try retrying("unlinkat", subject) { Glibc.unlinkat(object.directory, name, 0) }
    }

    static func symbolicLink(target: String, at object: ObjectPath, _ subject: String) throws {
        let name = object.relativeName
        _ = try retrying("symlinkat", subject) { Glibc.symlinkat(target, object.directory, name) }
    }

    /// A new hard link; never follows a symbolic link at `source`, so a link to a symlink links the symlink.
    static func link(_ source: ObjectPath, to target: ObjectPath, _ subject: String) throws {
        let sourceName = source.relativeName
        let targetName = target.relativeName
        let flags = source.name == nil ? cmortar_at_empty_path : 0
        _ = try retrying("linkat", subject) {
            Glibc.linkat(source.directory, sourceName, target.directory, targetName, flags)
        }
    }

    /// A new name for an open descriptor (needs CAP_DAC_READ_SEARCH, which the brick has as root).
    static func link(descriptor: Int32, to target: ObjectPath, _ subject: String) throws {
        try link(ObjectPath(directory: descriptor, name: nil), to: target, subject)
    }

    static func rename(_ source: ObjectPath, to target: ObjectPath, flags: UInt32, _ subject: String) throws {
        let sourceName = source.relativeName
        let targetName = target.relativeName
        _ = try retrying("renameat2", subject) {
            cmortar_renameat2(source.directory, sourceName, target.directory, targetName, flags)
        }
    }

    static func makeNode(_ object: ObjectPath, mode: UInt32, device: UInt64, _ subject: String) throws {
        let name = object.relativeName
        _ = try retrying("mknodat", subject) { cmortar_mknodat(object.directory, name, mode, device) }
    }

    /// Changes the owner of the object itself, never a symbolic link's target.
    static func changeOwner(_ object: ObjectPath, userID: UInt32, groupID: UInt32, _ subject: String) throws {
        let name = object.relativeName
        let flags = AT_SYMLINK_NOFOLLOW | (object.name == nil ? cmortar_at_empty_path : 0)
        _ = try retrying("fchownat", subject) { Glibc.fchownat(object.directory, name, userID, groupID, flags) }
    }

    static func changeOwner(descriptor: Int32, userID: UInt32, groupID: UInt32, _ subject: String) throws {
        _ = try retrying("fchown", subject) { Glibc.fchown(descriptor, userID, groupID) }
    }

    /// Follows a final symbolic link as chmod(2) does (Linux has no lchmod); callers never pass one.
    static func changePermissions(_ object: ObjectPath, _ permissions: UInt32, _ subject: String) throws {
        guard let name = object.name else {
            _ = try retrying("fchmod", subject) { Glibc.fchmod(object.directory, permissions) }
            return
        }
        _ = try retrying("fchmodat", subject) { Glibc.fchmodat(object.directory, name, permissions, 0) }
    }

    /// truncate(2) has no *at form; through `/proc/self/fd` it needs no descriptor opened for writing (which a
    /// file without write permission would refuse to anyone but root, and which would cost an open and a close).
    static func truncate(_ object: ObjectPath, to size: off_t, _ subject: String) throws {
        let path = object.procPath
        _ = try retrying("truncate", subject) { Glibc.truncate(path, size) }
    }

    /// Sets the object's times, never a symbolic link's target's; a nanosecond field may be UTIME_NOW or
    /// UTIME_OMIT.
    static func setTimes(
        _ object: ObjectPath, access: (seconds: Int64, nanoseconds: Int),
        modification: (seconds: Int64, nanoseconds: Int), _ subject: String
    ) throws {
        _ = try retrying("utimensat", subject) {
            if let name = object.name {
                return cmortar_utimensat(
                    object.directory, name, access.seconds, access.nanoseconds, modification.seconds,
                    modification.nanoseconds)
            }
            return cmortar_utimensat(
                object.directory, nil, access.seconds, access.nanoseconds, modification.seconds,
                modification.nanoseconds)
        }
    }
}
