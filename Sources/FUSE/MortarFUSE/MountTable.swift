import CFuse
import Glibc
import MortarCore

/// The kernel's table of mounts as this process sees it (`/proc/self/mountinfo`), and the checks `mortar mount`
/// makes before it asks for a mount, so that the usual mistakes get a sentence rather than a libfuse message.
public struct MountTable: Sendable {
    public struct Entry: Sendable, Equatable {
        /// `MAJOR:MINOR` of the mounted file system.
        public var device: String
        public var mountPoint: String
        public var type: String
        public var source: String
    }

    /// Parses mountinfo lines: `ID PARENT MAJOR:MINOR ROOT MOUNTPOINT OPTIONS [OPTIONAL…] - TYPE SOURCE SUPER`.
    public static func parse(_ text: String) -> [Entry] {
        text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ").map(String.init)
            guard let separator = fields.firstIndex(of: "-"), separator >= 6, separator + 1 < fields.count else {
                return nil
            }
            let source = separator + 2 < fields.count ? fields[separator + 2] : ""
            return Entry(
                device: fields[2], mountPoint: unescape(fields[4]), type: fields[separator + 1], source: unescape(source))
        }
    }

    public static func current() -> [Entry] {
        guard let file = fopen("/proc/self/mountinfo", "r") else { return [] }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = fread(&buffer, 1, buffer.count, file)
            if count <= 0 { break }
            bytes += buffer[..<count]
        }
        return parse(String(decoding: bytes, as: UTF8.self))
    }

    /// mountinfo writes space, tab, newline and backslash as octal escapes (`\040`).
    static func unescape(_ field: String) -> String {
        var bytes: [UInt8] = []
        var input = Array(field.utf8)[...]
        while let byte = input.popFirst() {
            if byte == UInt8(ascii: "\\"), input.count >= 3, let value = UInt8(String(decoding: input.prefix(3), as: UTF8.self), radix: 8) {
                bytes.append(value)
                input = input.dropFirst(3)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The absolute, symlink-free path of a directory that can take a mount: it exists, is a directory, and is
    /// not a mount point already (a FUSE mount whose server died shows as ENOTCONN and is named as such).
    public static func checkMountPoint(_ path: String) throws -> String {
        var status = stat()
        guard stat(path, &status) == 0 else {
            switch errno {
            case ENOENT: throw FileSystemError(.notFound, "mount point \(path) does not exist")
            case ENOTCONN:
                throw FileSystemError(
                    .notConnected, "\(path) is a mount whose server has gone; unmount it first (mortar umount \(path))")
            default: throw FileSystemError.fromErrno("stat", "mount point \(path)")
            }
        }
        guard status.st_mode & S_IFMT == S_IFDIR else {
            throw FileSystemError(.notDirectory, "mount point \(path) is not a directory")
        }
        guard let resolved = realpath(path, nil) else { throw FileSystemError.fromErrno("realpath", path) }
        defer { free(resolved) }
        let absolute = String(cString: resolved)
        if let existing = current().last(where: { $0.mountPoint == absolute }) {
            throw FileSystemError(
                .busy, "\(absolute) is already a mount point (\(existing.type) from \(existing.source)); unmount it first")
        }
        return absolute
    }

    /// Checks that the FUSE device is there and can be opened, which mounting needs.
    public static func checkFUSEDevice(_ path: String = "/dev/fuse") throws {
        let descriptor = open(path, O_RDWR | O_CLOEXEC)
        guard descriptor >= 0 else {
            switch errno {
            case ENOENT, ENODEV, ENXIO:
                throw FileSystemError(
                    .notFound, "no FUSE device at \(path): load the fuse kernel module (modprobe fuse)")
            case EACCES, EPERM:
                throw FileSystemError(.permissionDenied, "no permission to open \(path): mount as root")
            default: throw FileSystemError.fromErrno("open", path)
            }
        }
        close(descriptor)
    }
}
