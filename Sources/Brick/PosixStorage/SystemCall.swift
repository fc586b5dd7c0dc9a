import CMortarLinux
import Glibc
import MortarCore

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

    static func lstat(_ path: String, _ subject: String) throws -> stat {
        var status = stat()
        _ = try retrying("lstat", subject) { Glibc.lstat(path, &status) }
        return status
    }

    static func fstat(_ descriptor: Int32, _ subject: String) throws -> stat {
        var status = stat()
        _ = try retrying("fstat", subject) { Glibc.fstat(descriptor, &status) }
        return status
    }

    static func open(_ path: String, flags: Int32, permissions: UInt32 = 0, _ subject: String) throws -> Int32 {
        try retrying("open", subject) { cmortar_open_by_path(path, flags | O_CLOEXEC, permissions) }
    }

    /// Closes a descriptor. EINTR is not retried: on Linux the descriptor is gone either way.
    static func close(_ descriptor: Int32) {
        _ = Glibc.close(descriptor)
    }

    static func readLink(_ path: String, _ subject: String) throws -> String {
        var buffer = [UInt8](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = try retrying("readlink", subject) {
            buffer.withUnsafeMutableBufferPointer { pointer in
                pointer.baseAddress.map { Glibc.readlink(path, $0, pointer.count - 1) } ?? -1
            }
        }
        return String(decoding: buffer[0..<count], as: UTF8.self)
    }

    static func makeDirectory(_ path: String, permissions: UInt32, _ subject: String) throws {
        _ = try retrying("mkdir", subject) { Glibc.mkdir(path, permissions) }
    }

    /// Creates a directory unless it exists already (used for the hidden index).
    static func makeDirectoryIfMissing(_ path: String, _ subject: String) throws {
        do {
            try makeDirectory(path, permissions: 0o700, subject)
        } catch let error as FileSystemError where error.code == .exists {
            return
        }
    }

    static func removeDirectory(_ path: String, _ subject: String) throws {
        _ = try retrying("rmdir", subject) { Glibc.rmdir(path) }
    }

    static func unlink(_ path: String, _ subject: String) throws {
        _ = try retrying("unlink", subject) { Glibc.unlink(path) }
    }

    static func symbolicLink(target: String, at path: String, _ subject: String) throws {
        _ = try retrying("symlink", subject) { Glibc.symlink(target, path) }
    }

    /// A new hard link; never follows a symbolic link at `source`, so a link to a symlink links the symlink.
    static func link(_ source: String, to target: String, _ subject: String) throws {
        _ = try retrying("linkat", subject) { Glibc.linkat(AT_FDCWD, source, AT_FDCWD, target, 0) }
    }

    /// A new name for an open descriptor (needs CAP_DAC_READ_SEARCH, which the brick has as root).
    static func link(descriptor: Int32, to target: String, _ subject: String) throws {
        _ = try retrying("linkat", subject) {
            Glibc.linkat(descriptor, "", AT_FDCWD, target, cmortar_at_empty_path)
        }
    }

    static func rename(_ source: String, to target: String, flags: UInt32, _ subject: String) throws {
        _ = try retrying("renameat2", subject) { cmortar_renameat2(AT_FDCWD, source, AT_FDCWD, target, flags) }
    }

    static func makeNode(_ path: String, mode: UInt32, device: UInt64, _ subject: String) throws {
        _ = try retrying("mknod", subject) { cmortar_mknod(path, mode, device) }
    }

    static func changeOwner(_ path: String, userID: UInt32, groupID: UInt32, _ subject: String) throws {
        _ = try retrying("lchown", subject) { Glibc.lchown(path, userID, groupID) }
    }

    static func changeOwner(descriptor: Int32, userID: UInt32, groupID: UInt32, _ subject: String) throws {
        _ = try retrying("fchown", subject) { Glibc.fchown(descriptor, userID, groupID) }
    }

    static func changePermissions(_ path: String, _ permissions: UInt32, _ subject: String) throws {
        _ = try retrying("chmod", subject) { Glibc.chmod(path, permissions) }
    }

    static func truncate(_ path: String, to size: off_t, _ subject: String) throws {
        _ = try retrying("truncate", subject) { Glibc.truncate(path, size) }
    }
}
