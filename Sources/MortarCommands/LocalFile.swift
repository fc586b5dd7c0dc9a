// CoreFoundation: release builds resolve `stat` through it (MemberImportVisibility), debug builds through Glibc.
import CoreFoundation
import Glibc
import MortarCore
import NIOCore

/// A local file for the file tools, through plain POSIX calls, with errors that name the path.
struct LocalFile {
    let descriptor: Int32
    let path: String

    static let standardOutput = LocalFile(descriptor: 1, path: "standard output")

    static func open(_ path: String, forWriting: Bool, permissions: UInt32 = 0o644) throws -> LocalFile {
        let flags = forWriting ? (O_WRONLY | O_CREAT | O_TRUNC) : O_RDONLY
        let descriptor = Glibc.open(path, flags | O_CLOEXEC, mode_t(permissions))
        guard descriptor >= 0 else { throw FileSystemError.fromErrno("open", path) }
        return LocalFile(descriptor: descriptor, path: path)
    }

    /// Up to `count` bytes from the current position; empty at the end of the file.
    func read(count: Int) throws -> ByteBuffer {
        var buffer = ByteBuffer()
        try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { bytes in
            while true {
                let result = Glibc.read(descriptor, bytes.baseAddress, count)
                if result >= 0 { return result }
                if errno != EINTR { throw FileSystemError.fromErrno("read", path) }
            }
        }
        return buffer
    }

    func writeAll(_ data: ByteBuffer) throws {
        try data.withUnsafeReadableBytes { bytes in
            var done = 0
            while done < bytes.count {
                let result = Glibc.write(descriptor, bytes.baseAddress! + done, bytes.count - done)
                if result < 0 {
                    if errno == EINTR { continue }
                    throw FileSystemError.fromErrno("write", path)
                }
                done += result
            }
        }
    }

    func close() throws {
        guard descriptor > 2 else { return }
        guard Glibc.close(descriptor) == 0 else { throw FileSystemError.fromErrno("close", path) }
    }

    /// Type and permissions of a local path, or nil if it does not exist.
    static func kind(_ path: String) throws -> (isDirectory: Bool, permissions: UInt32)? {
        var info = stat()
        guard stat(path, &info) == 0 else {
            if errno == ENOENT { return nil }
            throw FileSystemError.fromErrno("stat", path)
        }
        return (info.st_mode & S_IFMT == S_IFDIR, UInt32(info.st_mode & 0o7777))
    }

    static func makeDirectory(_ path: String, permissions: UInt32 = 0o755) throws {
        guard mkdir(path, mode_t(permissions)) == 0 || errno == EEXIST else {
            throw FileSystemError.fromErrno("mkdir", path)
        }
    }

    static func entries(_ path: String) throws -> [String] {
        guard let directory = opendir(path) else { throw FileSystemError.fromErrno("opendir", path) }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }
}
