import Glibc
import MortarCore
import Synchronization

/// The heal journal's markers on disk: `ROOT/.mortar/heal`, held open for the journal's life, with one append-only
/// log per member, `MEMBER.log`, of lines `+NAME` (a marker made) and `-NAME` (removed).
///
/// Why a log and not a file per marker: every member makes a marker for every file it changes, before the change,
/// and a file costs an inode allocation and a later unlink — on small-file creation that was a fifth of the
/// bricks' CPU. An appended line costs one `write(2)`. A log is compacted (rewritten with the markers still live,
/// then renamed over) once it passes `Limits.healMarkerLogCompactBytes`.
///
/// Markers of the per-file layout of earlier versions (`MEMBER/f-FILEID`) are read and moved into the log on the
/// first ``markers()``. Everything is reached with `*at` calls relative to the directory's descriptor and
/// `O_NOFOLLOW`, so paths have a fixed length wherever the brick lives and a symbolic link planted in place of a log
/// fails the call instead of sending it elsewhere.
///
/// Invariants: ``descriptor`` is open from `init` until ``close()``, which only the owning journal calls, once; each
/// member's log has at most one open descriptor, in `logs`, and every append to it happens under that lock, so
/// lines never interleave and compaction never loses one. A line without its newline (a crash mid-append) is
/// ignored: the change it was for was not applied, since a change waits for its marker.
final class HealMarkerDirectory: Sendable {
    /// The directory as given: for messages only.
    let path: String
    let descriptor: Int32
    private let logs = Mutex<[String: Log]>([:])

    private struct Log {
        var descriptor: Int32
        var bytes: Int
    }

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

    func close() {
        logs.withLock { logs in
            for log in logs.values { _ = Glibc.close(log.descriptor) }
            logs.removeAll()
        }
        _ = Glibc.close(descriptor)
    }

    /// Records the marker `MEMBER/NAME`; nil when it is on record afterwards, else `MEMBER/NAME: reason`.
    func createMarker(_ marker: String) -> String? {
        let (member, name) = Self.split(marker)
        do {
            try append("+\(name)\n", member: member)
            return nil
        } catch {
            return "\(marker): \(error.message)"
        }
    }

    /// Records that the marker `MEMBER/NAME` is gone. Best effort by design: every caller treats a marker left
    /// behind as an extra whole-item copy after a restart, never as a missed change.
    func removeMarker(_ marker: String) {
        let (member, name) = Self.split(marker)
        // Best effort (see above): a removal that is not logged leaves the marker live, costing an extra copy.
        try? append("-\(name)\n", member: member)
    }

    /// Forgets every marker of `member` (it rejoined): its log is emptied. Best effort, as ``removeMarker(_:)``.
    func forget(member: String) {
        logs.withLock { logs in
            if let log = logs.removeValue(forKey: member) { _ = Glibc.close(log.descriptor) }
            _ = unlinkat(descriptor, member + ".log", 0)
        }
    }

    /// The live markers of every member, from the logs (and from per-file markers of earlier versions, which are
    /// moved into the logs). Throws when a log or a member's directory cannot be read: a record that cannot be read
    /// must not count as empty.
    func markers() throws -> [Int: [String]] {
        var result: [Int: [String]] = [:]
        for entry in try names(in: nil) {
            if entry.hasSuffix(".log"), let member = Int(entry.dropLast(4)) {
                result[member, default: []] += try Self.liveNames(inLog: readFile(entry))
            } else if let member = Int(entry) {
                let legacy = try names(in: entry)
                for name in legacy { try append("+\(name)\n", member: entry) }
                for name in legacy { _ = unlinkat(descriptor, "\(entry)/\(name)", 0) }
                _ = unlinkat(descriptor, entry, AT_REMOVEDIR)
                result[member, default: []] += legacy
            }
            // Anything else is nothing this journal wrote.
        }
        return result.mapValues { Array(Set($0)) }
    }

    /// The names a log's text leaves live: each `+NAME` line adds, each `-NAME` line removes; a last line without
    /// its newline and lines of any other shape are ignored.
    static func liveNames(inLog text: String) -> [String] {
        var live = Set<String>()
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        lines.removeLast()  // after the last newline: empty, or a line cut short
        for line in lines where line.count > 1 && !line.contains("/") {
            switch line.first {
            case "+": live.insert(String(line.dropFirst()))
            case "-": live.remove(String(line.dropFirst()))
            default: continue
            }
        }
        return live.sorted()
    }

    // MARK: Logs

    private func append(_ line: String, member: String) throws(FileSystemError) {
        try logs.withLock { logs throws(FileSystemError) in
            var log: Log
            if let open = logs[member] { log = open } else { log = try openLog(member) }
            let written = line.withCString { write(log.descriptor, $0, strlen($0)) }
            guard written == line.utf8.count else {
                let error = FileSystemError.fromErrno("write", "\(path)/\(member).log")
                logs[member] = log
                throw error
            }
            log.bytes += written
            if log.bytes > Limits.healMarkerLogCompactBytes {
                // A failed compaction leaves the log as it was, only longer: nothing is lost.
                if let compacted = try? compact(member, log) { log = compacted }
            }
            logs[member] = log
        }
    }

    private func openLog(_ member: String) throws(FileSystemError) -> Log {
        let name = member + ".log"
        let opened = openat(descriptor, name, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard opened >= 0 else { throw FileSystemError.fromErrno("open", "\(path)/\(name)") }
        var status = stat()
        guard fstat(opened, &status) == 0 else {
            let error = FileSystemError.fromErrno("fstat", "\(path)/\(name)")
            _ = Glibc.close(opened)
            throw error
        }
        return Log(descriptor: opened, bytes: Int(status.st_size))
    }

    /// Rewrites `member`'s log with only its live markers, then renames it over the old one. Called under the lock.
    private func compact(_ member: String, _ log: Log) throws(FileSystemError) -> Log {
        let name = member + ".log"
        let live = Self.liveNames(inLog: try readFile(name))
        let text = live.map { "+\($0)\n" }.joined()
        let temporary = name + ".compacting"
        let opened = openat(
            descriptor, temporary, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard opened >= 0 else { throw FileSystemError.fromErrno("open", "\(path)/\(temporary)") }
        let written = text.withCString { write(opened, $0, strlen($0)) }
        guard written == text.utf8.count, renameat(descriptor, temporary, descriptor, name) == 0 else {
            let error = FileSystemError.fromErrno("compact", "\(path)/\(name)")
            _ = Glibc.close(opened)
            _ = unlinkat(descriptor, temporary, 0)
            throw error
        }
        _ = Glibc.close(log.descriptor)
        return Log(descriptor: opened, bytes: written)
    }

    private func readFile(_ name: String) throws(FileSystemError) -> String {
        let opened = openat(descriptor, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard opened >= 0 else { throw FileSystemError.fromErrno("open", "\(path)/\(name)") }
        defer { _ = Glibc.close(opened) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(opened, $0.baseAddress, $0.count) }
            guard count >= 0 else { throw FileSystemError.fromErrno("read", "\(path)/\(name)") }
            if count == 0 { break }
            bytes += chunk[..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `MEMBER/NAME` in its two parts. Every marker the journal names has exactly one slash.
    private static func split(_ marker: String) -> (member: String, name: String) {
        guard let slash = marker.firstIndex(of: "/") else { return (".", marker) }
        return (String(marker[..<slash]), String(marker[marker.index(after: slash)...]))
    }

    /// The names in the member directory `member` (per-file markers of earlier versions), or in the marker
    /// directory itself when nil.
    private func names(in member: String?) throws(FileSystemError) -> [String] {
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
