import Foundation
import MortarCore
import NIOPosix

/// A running child process whose exit any task can await. Spawning runs on NIO's thread pool, so the blocking
/// `posix_spawn` never holds a cooperative thread.
final class ChildProcess: Sendable {
    let pid: Int32
    private let exit: Latch<Int32>

    private init(pid: Int32, exit: Latch<Int32>) {
        self.pid = pid
        self.exit = exit
    }

    /// Starts `arguments[0]` with the remaining arguments, appending its output and errors to `logPath`.
    static func spawn(arguments: [String], logPath: String) async throws(FileSystemError) -> ChildProcess {
        guard let executable = arguments.first else {
            throw FileSystemError.invalidArgument("empty command line for a child process")
        }
        let exit = Latch<Int32>()
        let pid = try await onThreadPool {
            try launch(executable: executable, arguments: Array(arguments.dropFirst()), logPath: logPath, exit: exit)
        }
        return ChildProcess(pid: pid, exit: exit)
    }

    private static func launch(
        executable: String, arguments: [String], logPath: String, exit: Latch<Int32>
    ) throws(FileSystemError) -> Int32 {
        let descriptor = open(logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw FileSystemError.fromErrno("open", logPath) }
        let log = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        process.terminationHandler = { finished in exit.fire(finished.terminationStatus) }
        do {
            try process.run()
        } catch {
            throw FileSystemError(.notFound, "cannot start \(executable): \(error)")
        }
        return process.processIdentifier
    }

    /// Whether the process has exited.
    var hasExited: Bool { exit.value != nil }

    /// Waits for the exit status; nil if the waiting task is cancelled.
    func waitForExit() async -> Int32? {
        await exit.wait()
    }

    /// Asks the process to exit with SIGTERM, and kills it with SIGKILL if it is still there after
    /// ``Limits/brickStopGraceMilliseconds``. Returns once it has exited.
    func terminate() async {
        guard !hasExited else { return }
        kill(pid, SIGTERM)
        if await exit.wait(milliseconds: Limits.brickStopGraceMilliseconds) != nil { return }
        kill(pid, SIGKILL)
        _ = await exit.wait()
    }
}
