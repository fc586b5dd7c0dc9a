import Glibc
import MortarCore

/// The heal journal's marker directory, `ROOT/.mortar/heal`, held open for the journal's life.
///
/// Markers are named relative to it (`MEMBER/f-FILEID`) and reached with `*at` calls, so their paths have a fixed
/// length wherever the brick lives, and no name resolved here follows a symbolic link: a link planted in place of a
/// member's directory or a marker fails the call instead of sending it elsewhere.
///
/// Invariant: ``descriptor`` is open from `init` until ``close()``, which only the owning journal calls, once.
struct HealMarkerDirectory: Sendable {
    /// The directory as given: for messages only.
    let path: String
    let descriptor: Int32

    /// Opens `path`, creating it (mode 0700) if it is missing; its parent must exist. Throws when it cannot be
    /// created or opened, or is not a directory (a symbolic link counts as "not a directory").
    init(path: String) throws {
        if mkdir(path, 0o700) != 0 && errno != EEXIST { throw FileSystemError.fromErrno("mkdir", path) }
        let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard descriptor >= 0 else {
            if errno == ELOOP || errno == ENOTDIR {
                throw FileSystemError(.notDirectory, "heal marker directory \(path) is not a directory")
            }
            throw FileSystemError.fromErrno("open", path)
        }
        self.path = path
        self.descriptor = descriptor
    }

    func close() { _ = Glibc.close(descriptor) }

    /// Creates the marker `MEMBER/NAME` (and the member's directory); nil when it exists afterwards, else
    /// `MEMBER/NAME: reason`.
    func createMarker(_ marker: String) -> String? {
        let (member, name) = Self.split(marker)
        if mkdirat(descriptor, member, 0o700) != 0 && errno != EEXIST {
            return "\(marker): mkdir \(member): \(String(cString: strerror(errno)))"
        }
        let directory = openat(descriptor, member, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard directory >= 0 else { return "\(marker): open \(member): \(String(cString: strerror(errno)))" }
        defer { _ = Glibc.close(directory) }
        let file = openat(directory, name, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard file >= 0 else { return "\(marker): \(String(cString: strerror(errno)))" }
        _ = Glibc.close(file)
        return nil
    }

    /// Removes the marker `MEMBER/NAME`. Best effort by design: every caller treats a marker left behind as an
    /// extra whole-item copy after a restart, never as a missed change.
    func removeMarker(_ marker: String) {
        let (member, name) = Self.split(marker)
        let directory = openat(descriptor, member, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard directory >= 0 else { return }
        _ = unlinkat(directory, name, 0)
        _ = Glibc.close(directory)
    }

    /// `MEMBER/NAME` in its two parts. Every marker the journal names has exactly one slash.
    private static func split(_ marker: String) -> (member: String, name: String) {
        guard let slash = marker.firstIndex(of: "/") else { return (".", marker) }
        return (String(marker[..<slash]), String(marker[marker.index(after: slash)...]))
    }

    /// The names in the member directory `member`, or in the marker directory itself when nil.
    func names(in member: String?) throws -> [String] {
        let subject = member.map { "\(path)/\($0)" } ?? path
        let listed = openat(descriptor, member ?? ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard listed >= 0 else { throw FileSystemError.fromErrno("open", subject) }
        guard let stream = fdopendir(listed) else {
            let error = FileSystemError.fromErrno("fdopendir", subject)
            _ = Glibc.close(listed)
            throw error
        }
        defer { closedir(stream) }
        var names: [String] = []
        while true {
            errno = 0
            guard let entry = readdir(stream) else { break }
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        // readdir answers nil at the end and on an error alike; only errno tells them apart.
        guard errno == 0 else { throw FileSystemError.fromErrno("readdir", subject) }
        return names
    }
}
