#if canImport(Glibc)
import Glibc
#endif
import MortarCore

/// The processes of this host as `/proc` shows them: how a daemon finds the bricks a previous daemon left running.
///
/// Only processes owned by this process's effective user count: another user's process that imitates a brick's
/// command line is never adopted, signalled or stopped.
public enum ProcessTable {
    /// A process and its argument list.
    public struct Entry: Sendable, Equatable {
        public var pid: Int32
        public var arguments: [String]
    }

    /// Every process of this user (this one excepted) whose arguments satisfy `matches`.
    public static func processes(where matches: ([String]) -> Bool) -> [Entry] {
        guard let directory = opendir("/proc") else { return [] }
        defer { closedir(directory) }
        var found: [Entry] = []
        let own = getpid()
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard let pid = Int32(name), pid > 1, pid != own, let arguments = arguments(of: pid), matches(arguments)
            else { continue }
            found.append(Entry(pid: pid, arguments: arguments))
        }
        return found.sorted { $0.pid < $1.pid }
    }

    /// The argument list of `pid` when it is a live process of this user; nil when it is gone, a zombie (its
    /// command line is empty), another user's, or its command line is longer than any brick's could be.
    public static func arguments(of pid: Int32) -> [String]? {
        var status = stat()
        guard stat("/proc/\(pid)", &status) == 0, status.st_uid == geteuid() else { return nil }
        let descriptor = open("/proc/\(pid)/cmdline", O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { return nil }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[..<count])
            guard bytes.count <= Limits.commandLineByteCountMax else { return nil }
        }
        guard !bytes.isEmpty else { return nil }
        if bytes.last == 0 { bytes.removeLast() }
        return bytes.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Whether `arguments` run a brick of `volume` numbered `index` over `path`, whatever else they say: the
    /// options that identify a brick, as ``BrickSupervisor`` passes them.
    public static func isBrick(_ arguments: [String], volume: String, index: Int, path: String) -> Bool {
        value(of: "--volume", in: arguments) == volume && value(of: "--brick-index", in: arguments) == String(index)
            && value(of: "--export", in: arguments) == path
    }

    /// The argument after the first `option` in `arguments`.
    public static func value(of option: String, in arguments: [String]) -> String? {
        guard let position = arguments.firstIndex(of: option), position + 1 < arguments.count else { return nil }
        return arguments[position + 1]
    }
}

extension ProcessTable {
    /// Stops every brick process of this user that serves a directory under `root` — SIGTERM, then SIGKILL after
    /// ``Limits/brickStopGraceMilliseconds`` — and returns their process IDs: `mortar down` stopping bricks that a
    /// daemon left running (bricks outlive their daemon).
    public static func stopBricks(servingUnder root: String) async -> [Int32] {
        let prefix = root.hasSuffix("/") ? root : root + "/"
        let found = processes { arguments in
            value(of: "--brick-index", in: arguments) != nil
                && value(of: "--export", in: arguments)?.hasPrefix(prefix) == true
        }
        var stopped: [Int32] = []
        await withDiscardingTaskGroup { group in
            for entry in found {
                guard let process = ChildProcess.adopt(pid: entry.pid, arguments: entry.arguments) else { continue }
                stopped.append(entry.pid)
                group.addTask { await process.terminateWatching() }
            }
        }
        return stopped
    }
}
