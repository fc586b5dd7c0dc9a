import Foundation
import MortarCore

/// A JSON file in the state directory holding one `Content` value next to a format version, replaced
/// atomically: a crash at any moment leaves either the old file or the new one, never a torn mix.
public struct StateFile<Content: Codable & Sendable>: Sendable {
    /// The format this build writes and the only one it reads.
    public static var formatVersion: Int { 1 }

    public let path: String

    public init(path: String) {
        self.path = path
    }

    private struct Envelope: Codable {
        var formatVersion: Int
        var content: Content
    }

    private struct VersionProbe: Codable {
        var formatVersion: Int
    }

    /// The stored value, or nil when the file does not exist yet. A file that exists but cannot be read back is
    /// an error naming the file: silently starting from scratch would forget every volume.
    public func load() throws(FileSystemError) -> Content? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FileSystemError.inputOutput("cannot read state file \(path)")
        }
        return try Self.decode(data, source: "state file \(path)")
    }

    /// A document as ``encode(_:source:)`` wrote it, wherever it was stored (`source` names it in errors): the
    /// same versioned JSON goes to a file or to etcd.
    public static func decode(_ data: Data, source: String) throws(FileSystemError) -> Content {
        let decoder = JSONDecoder()
        // Not a versioned document: thrown below as an unreadable state file.
        guard let probe = try? decoder.decode(VersionProbe.self, from: data) else {
            throw FileSystemError.inputOutput(
                "\(source) is corrupt (not JSON with a formatVersion); restore it from a backup or move it away")
        }
        guard probe.formatVersion == Self.formatVersion else {
            throw FileSystemError.inputOutput(
                "\(source) has format version \(probe.formatVersion); this mortar reads version \(Self.formatVersion)")
        }
        do {
            return try decoder.decode(Envelope.self, from: data).content
        } catch {
            throw FileSystemError.inputOutput("\(source) is corrupt: \(error)")
        }
    }

    /// `content` as a versioned JSON document.
    public static func encode(_ content: Content, source: String) throws(FileSystemError) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do {
            return try encoder.encode(Envelope(formatVersion: Self.formatVersion, content: content))
        } catch {
            throw FileSystemError.invalidArgument("cannot encode \(source): \(error)")
        }
    }

    /// Writes `content` to a temporary file, flushes it, renames it over the old file and flushes the directory,
    /// so that the rename itself survives a power loss.
    public func save(_ content: Content) throws(FileSystemError) {
        let data = try Self.encode(content, source: "state file \(path)")
        let temporaryPath = path + ".tmp"
        try AtomicFile.writeAndSync(data, to: temporaryPath)
        guard rename(temporaryPath, path) == 0 else { throw FileSystemError.fromErrno("rename", temporaryPath) }
        try AtomicFile.syncDirectory(containing: path)
    }
}

/// The system calls behind ``StateFile/save(_:)``.
enum AtomicFile {
    static func writeAndSync(_ data: Data, to path: String) throws(FileSystemError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw FileSystemError.fromErrno("open", path) }
        defer { close(descriptor) }
        let failure: Int32? = data.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = write(descriptor, bytes.baseAddress.map { $0 + offset }, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                offset += written
            }
            return nil
        }
        if let failure { throw FileSystemError.fromErrno("write", path, errno: failure) }
        guard fsync(descriptor) == 0 else { throw FileSystemError.fromErrno("fsync", path) }
    }

    static func syncDirectory(containing path: String) throws(FileSystemError) {
        let directory = (path as NSString).deletingLastPathComponent
        let descriptor = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw FileSystemError.fromErrno("open", directory) }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw FileSystemError.fromErrno("fsync", directory) }
    }

    /// Creates `path` and its parents; an existing directory is fine.
    static func makeDirectory(_ path: String) throws(FileSystemError) {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw FileSystemError.inputOutput("cannot create directory \(path): \(error)")
        }
    }
}
