import Foundation
import MortarCore
import MortarEtcd
import MortarSecurity

/// The one-member etcd that `mortar up` runs for its cluster: data in `DIR/etcd`, log in `DIR/etcd.log`, process id
/// in `DIR/etcd.pid`, listening on loopback only (clients on `clientPort`, the unused peer port on `peerPort`),
/// over mutual TLS with the host's etcd credentials in `DIR/state/tls` (the daemon's, which it presents in turn).
/// `mortar down` stops it last, after the daemon and the bricks.
struct EmbeddedEtcd {
    let root: String
    static let clientPort = 24379
    static let peerPort = 24380

    var member: EtcdMember {
        EtcdMember(
            name: "mortar-up", host: "127.0.0.1", clientPort: Self.clientPort, peerPort: Self.peerPort,
            tlsDirectory: root + "/state/tls")
    }
    var pidPath: String { root + "/etcd.pid" }

    /// A client presenting the host's etcd certificate, as the daemon does.
    func client() throws(FileSystemError) -> EtcdClient {
        EtcdClient(
            endpoints: [member.endpoint],
            security: .tls(try TLSContext(directory: root + "/state/tls", names: .etcd)))
    }

    /// Starts etcd unless it already answers, and waits (bounded) until it accepts a write.
    func ensureRunning() async throws {
        if await refusal() == nil {
            print("etcd already answers on \(member.clientURL); using it.")
            return
        }
        let executable = try Self.executable()
        let logPath = root + "/etcd.log"
        let process = try startInBackground(
            executable, member.arguments(cluster: [member], dataDirectory: root + "/etcd", token: "mortar-up"),
            log: logPath)
        try Data("\(process.processIdentifier)\n".utf8).write(to: URL(fileURLWithPath: pidPath), options: .atomic)
        let started = ContinuousClock.now
        let bound = Duration.seconds(Limits.embeddedEtcdStartSeconds)
        var reported = started
        while let refusal = await refusal() {
            guard process.isRunning else {
                // The log is read only to explain the exit; an unreadable one leaves the plain message.
                let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
                throw Self.startFailure(log: log, logPath: logPath, directory: root)
            }
            let now = ContinuousClock.now
            guard now < started + bound else {
                throw FileSystemError(
                    .timedOut,
                    "etcd did not accept a write within \(Limits.embeddedEtcdStartSeconds) seconds (\(refusal.message)); see \(logPath)")
            }
            if now - reported >= .seconds(10) {
                reported = now
                print("Still waiting for etcd to accept a write (\(Int((now - started).components.seconds)) s so far): \(refusal.message)")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        print("Started etcd on \(member.clientURL) (data in \(root)/etcd, log in \(logPath)).")
    }

    /// Why etcd exited at start, from its log: one line, naming the port when another process holds one of
    /// `mortar up`'s (most often the etcd of a cluster whose daemon was stopped without `mortar down`).
    static func startFailure(log: String, logPath: String, directory: String) -> FileSystemError {
        let lines = log.split(separator: "\n")
        guard let busy = lines.last(where: { $0.contains("address already in use") }) else {
            return FileSystemError.inputOutput("etcd exited at start; see \(logPath)")
        }
        let port = [clientPort, peerPort].first { busy.contains("127.0.0.1:\($0)") }
        let what = port.map { "port \($0) on 127.0.0.1" } ?? "one of ports \(clientPort) and \(peerPort) on 127.0.0.1"
        return FileSystemError(
            .busy,
            "etcd could not start: \(what) is in use; another `mortar up` cluster's etcd may still run there "
                + "(`mortar down --dir` of that cluster stops it), or use that cluster instead of \(directory); see \(logPath)")
    }

    /// Why etcd does not accept a write now, or nil when it does.
    private func refusal() async -> FileSystemError? {
        do {
            try await client().put("/mortar/v1/up", Array("1".utf8))
            return nil
        } catch {
            return error
        }
    }

    /// etcd on PATH, or a clear error saying where it comes from.
    static func executable() throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") + ["/usr/bin"] {
            let candidate = "\(directory)/etcd"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw FileSystemError.notFound(
            "mortar up keeps the cluster's catalog in etcd, and no etcd is on PATH: install it (Debian: apt-get install etcd-server, or scripts/install-deps.sh)")
    }

    /// Stops the etcd started by ``ensureRunning()`` (SIGTERM, waiting at most 30 s); its pid, or nil when none
    /// was recorded.
    func stop() async throws -> Int32? {
        try await stopProcess(pidPath: pidPath, name: "etcd")
    }
}

/// Stops the process named by a pid file with SIGTERM and waits (bounded) for it to exit; its pid, or nil when
/// there is no pid file. A process already gone is reported and its pid file removed.
func stopProcess(pidPath: String, name: String) async throws -> Int32? {
    // No pid file: no such process of ours is running.
    guard let text = try? String(contentsOfFile: pidPath, encoding: .utf8),
        let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0
    else { return nil }
    guard kill(pid, SIGTERM) == 0 else {
        guard errno == ESRCH else { throw FileSystemError.fromErrno("kill", "\(name) process \(pid)") }
        // Cleanup: the process is gone, its pid file only tidied.
        try? FileManager.default.removeItem(atPath: pidPath)
        print("The \(name) (pid \(pid)) was not running.")
        return pid
    }
    let deadline = ContinuousClock.now + .seconds(30)
    while kill(pid, 0) == 0 {
        guard ContinuousClock.now < deadline else {
            throw FileSystemError(.timedOut, "\(name) process \(pid) did not exit within 30 seconds")
        }
        try await Task.sleep(for: .milliseconds(100))
    }
    // Cleanup: the process exited; the pid file only names it.
    try? FileManager.default.removeItem(atPath: pidPath)
    print("Stopped the \(name) (pid \(pid)).")
    return pid
}

/// Starts `executable` with `arguments`, its output appended to `log` and no input, and leaves it running.
func startInBackground(_ executable: String, _ arguments: [String], log logPath: String) throws -> Process {
    if !FileManager.default.fileExists(atPath: logPath) {
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
    }
    guard let log = FileHandle(forWritingAtPath: logPath) else {
        throw FileSystemError.inputOutput("cannot open \(logPath)")
    }
    log.seekToEndOfFile()
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = log
    process.standardError = log
    try process.run()
    return process
}
