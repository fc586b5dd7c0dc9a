#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CMortarLinux
import MortarCore

/// A child process whose exit any task can await.
///
/// Spawned with `posix_spawn` rather than Foundation's `Process` because the child must start with default
/// signal dispositions: the daemon's signal handling ignores SIGTERM in the parent, an ignored signal survives
/// `exec`, and a brick that ignores SIGTERM could only be stopped with SIGKILL.
final class ChildProcess: Sendable {
    let pid: Int32
    private let exit = Latch<Int32>()

    /// How often ``monitor()`` asks the kernel whether the child has exited. Non-blocking `waitpid` keeps the
    /// cooperative threads free and needs no process-wide SIGCHLD handler that could steal other children.
    static let exitPollMilliseconds: Int64 = 50

    private init(pid: Int32) {
        self.pid = pid
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
        return ChildProcess(pid: pid)
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
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, arguments[0], &actions, &attributes, &argv, environ)
        guard result == 0 else { throw FileSystemError.fromErrno("posix_spawn", arguments[0], errno: result) }
        return pid
    }

    /// Whether the process has exited (as observed by ``monitor()``).
    var hasExited: Bool { exit.value != nil }

    /// Reaps the child: polls until it exits, then reports the exit status to every waiter. Exactly one task
    /// (the brick's supervising task) runs this; it returns early, leaving the child unreaped, only when cancelled.
    func monitor() async -> Int32? {
        while !Task.isCancelled {
            var status: Int32 = 0
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid || (reaped < 0 && errno == ECHILD) {
                let code = Self.exitCode(status)
                exit.fire(code)
                return code
            }
            try? await Task.sleep(for: .milliseconds(Self.exitPollMilliseconds))
        }
        return nil
    }

    /// The exit status, or 128 + the signal number for a child killed by a signal (as shells report it).
    private static func exitCode(_ status: Int32) -> Int32 {
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    /// Waits for the exit status; nil if the waiting task is cancelled.
    func waitForExit() async -> Int32? {
        await exit.wait()
    }

    /// Asks the process to exit with SIGTERM, and kills it with SIGKILL if it is still there after
    /// ``Limits/brickStopGraceMilliseconds``. Returns once it has exited (someone must be running ``monitor()``).
    func terminate() async {
        guard !hasExited else { return }
        kill(pid, SIGTERM)
        if await exit.wait(milliseconds: Limits.brickStopGraceMilliseconds) != nil { return }
        kill(pid, SIGKILL)
        _ = await exit.wait()
    }
}
