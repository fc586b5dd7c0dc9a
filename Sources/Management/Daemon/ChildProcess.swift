#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CMortarLinux
import MortarCore

/// A brick process whose exit any task can await: a child this daemon spawned, or one an earlier daemon spawned
/// and this one adopted.
///
/// Spawned with `posix_spawn` rather than Foundation's `Process` because the child must start with default
/// signal dispositions: the daemon's signal handling ignores SIGTERM in the parent, an ignored signal survives
/// `exec`, and a brick that ignores SIGTERM could only be stopped with SIGKILL. Children start in a session of
/// their own and are not tied to the daemon's life: a daemon that exits (an upgrade, a restart, a crash) leaves its
/// bricks serving, and the next daemon adopts them (``adopt(pid:arguments:)``).
///
/// An adopted process is not this daemon's child: it is watched and signalled through a pidfd, which keeps
/// referring to that process even if its number is reused, and its exit status is not this daemon's to read.
final class ChildProcess: Sendable {
    /// How a process ended, as far as this daemon can tell.
    enum Exit: Sendable, Equatable, CustomStringConvertible {
        /// The exit status, or 128 + the signal number for a process killed by a signal (as shells report it).
        case status(Int32)
        /// An adopted process exited; only its parent (init) learns the status.
        case unknown

        var description: String {
            switch self {
            case .status(let code): "\(code)"
            case .unknown: "unknown (adopted, not our child)"
            }
        }
    }

    let pid: Int32
    /// The pidfd of an adopted process; nil for this daemon's own child.
    private let pidDescriptor: Int32?
    private let exit = Latch<Exit>()

    /// How often ``monitor()`` asks the kernel whether the process has exited. Non-blocking `waitpid` (or `poll`
    /// of a pidfd) keeps the cooperative threads free and needs no process-wide SIGCHLD handler that could steal
    /// other children.
    static let exitPollMilliseconds: Int64 = 50

    private init(pid: Int32, pidDescriptor: Int32?) {
        self.pid = pid
        self.pidDescriptor = pidDescriptor
    }

    deinit {
        if let pidDescriptor { close(pidDescriptor) }
    }

    /// Takes over process `pid`, which an earlier daemon started, if it is still running with exactly
    /// `arguments` as this user; nil when it is not (gone, exited, or another program under that number now).
    static func adopt(pid: Int32, arguments: [String]) -> ChildProcess? {
        let descriptor = cmortar_pidfd_open(pid)
        guard descriptor >= 0 else { return nil }
        let process = ChildProcess(pid: pid, pidDescriptor: descriptor)
        // The number may have been reused between the caller's look at /proc and the pidfd: the arguments read
        // now, while the pidfd's process is still alive (checked after), are that process's own.
        guard ProcessTable.arguments(of: pid) == arguments, !process.pidDescriptorSaysExited() else { return nil }
        return process
    }

    /// Whether the pidfd reports its process exited. A failed poll (EINTR) is not an exit: the next look decides.
    private func pidDescriptorSaysExited() -> Bool {
        guard let pidDescriptor else { return false }
        var poller = pollfd(fd: pidDescriptor, events: Int16(POLLIN), revents: 0)
        return poll(&poller, 1, 0) > 0
    }

    /// Starts `arguments[0]` (an absolute path) with the rest as its arguments, appending its output and errors
    /// to `logPath` and reading from /dev/null. The child gets descriptors 0, 1 and 2 and nothing else: without
    /// this, every brick held the daemon's listening socket and whatever management connections happened to be
    /// open at spawn time (NIO does not open sockets close-on-exec), so a connection the daemon had closed stayed
    /// open in a brick, and a stopped daemon's port stayed bound.
    static func spawn(arguments: [String], logPath: String) async throws(FileSystemError) -> ChildProcess {
        guard let executable = arguments.first, executable.hasPrefix("/") else {
            throw FileSystemError.invalidArgument("child command '\(arguments.first ?? "")' is not an absolute path")
        }
        let pid = try await onThreadPool { try launch(arguments, logPath: logPath) }
        return ChildProcess(pid: pid, pidDescriptor: nil)
    }

    private static func launch(_ arguments: [String], logPath: String) throws(FileSystemError) -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        guard cmortar_spawn_close_from(&actions, 3) == 0 else {
            throw FileSystemError.fromErrno("posix_spawn_file_actions_addclosefrom_np", arguments[0], errno: errno)
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // A session of its own: a Ctrl-C or hang-up at the daemon's terminal is not the brick's.
        let configured = cmortar_spawnattr_default_signals(&attributes, cmortar_posix_spawn_setsid)
        guard configured == 0 else {
            throw FileSystemError.fromErrno("posix_spawnattr", arguments[0], errno: configured)
        }

        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, arguments[0], &actions, &attributes, &argv, environ)
        guard result == 0 else { throw FileSystemError.fromErrno("posix_spawn", arguments[0], errno: result) }
        return pid
    }

    /// Whether the process has exited (as observed by ``monitor()``).
    var hasExited: Bool { exit.value != nil }

    /// Watches the process until it exits (reaping it, if it is this daemon's child), then reports how it ended
    /// to every waiter. Exactly one task (the brick's supervising task) runs this; it returns nil early, leaving
    /// the process running and unreaped, only when cancelled.
    func monitor() async -> Exit? {
        while !Task.isCancelled {
            if pidDescriptor != nil {
                if pidDescriptorSaysExited() {
                    exit.fire(.unknown)
                    return .unknown
                }
            } else {
                var status: Int32 = 0
                let reaped = waitpid(pid, &status, WNOHANG)
                if reaped == pid || (reaped < 0 && errno == ECHILD) {
                    let ended = Exit.status(Self.exitCode(status))
                    exit.fire(ended)
                    return ended
                }
            }
            // Cancellation ends the sleep early; the loop's condition then returns.
            try? await Task.sleep(for: .milliseconds(Self.exitPollMilliseconds))
        }
        return nil
    }

    /// The exit status, or 128 + the signal number for a child killed by a signal (as shells report it).
    private static func exitCode(_ status: Int32) -> Int32 {
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    /// Sends `signal` to the process: through its pidfd when adopted, so it can never reach a later process that
    /// took the number.
    private func send(_ signal: Int32) {
        if let pidDescriptor {
            _ = cmortar_pidfd_send_signal(pidDescriptor, signal)
        } else {
            kill(pid, signal)
        }
    }

    /// Asks the process to exit with SIGTERM, and kills it with SIGKILL if it is still there after
    /// ``Limits/brickStopGraceMilliseconds``. Returns once it has exited (someone must be running ``monitor()``).
    func terminate() async {
        guard !hasExited else { return }
        send(SIGTERM)
        if await exit.wait(milliseconds: Limits.brickStopGraceMilliseconds) != nil { return }
        send(SIGKILL)
        _ = await exit.wait()
    }

    /// ``terminate()`` for a process no task monitors: watches it here until it has exited.
    func terminateWatching() async {
        await withDiscardingTaskGroup { group in
            group.addTask { _ = await self.monitor() }
            await self.terminate()
        }
    }
}
