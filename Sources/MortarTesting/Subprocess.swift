import CMortarLinux
import Glibc
import MortarCore
import Synchronization

/// A program the tests run: spawned with `posix_spawn`, every descriptor above standard error closed in the child
/// (glibc's closefrom file action), waited for with `waitpid`.
///
/// Not Foundation's `Process`: on Linux its `run()` lists `/proc/self/fd` to find the descriptors to close, copying
/// each entry's whole 256-byte name field out of the directory buffer. With the hundreds of descriptors a test
/// process holds, the last entry can sit at the end of that buffer, the copy runs into an unmapped page, and the
/// whole test process dies with SIGSEGV inside `Process.run()` (seen in CI). The closefrom action needs no list.
public final class Subprocess: Sendable {
    public let pid: Int32
    private let exit = Mutex<Int32?>(nil)

    /// Where a child's standard output and error go.
    public enum Output: Sendable {
        /// `/dev/null`.
        case null
        /// The test process's own.
        case inherit
        /// Appended to the file at this path (created if missing).
        case file(String)
        /// Standard output to `/dev/null`, standard error appended to the file at this path.
        case errorsTo(String)
    }

    private init(pid: Int32) {
        self.pid = pid
        Self.ignoreBrokenPipes
    }

    /// A child left running when its Subprocess goes is not waited for, but one that has exited is reaped (as
    /// Foundation's Process reaps), so a suite does not collect zombies.
    deinit {
        if exit.withLock({ $0 }) == nil {
            var raw: Int32 = 0
            _ = waitpid(pid, &raw, WNOHANG)
        }
    }

    /// Writing to a child that exited without reading its input must fail with EPIPE, not kill the test process
    /// with SIGPIPE. Children start with every signal at its default again (``SpawnActions/spawn(_:_:_:)``).
    private static let ignoreBrokenPipes: Void = { _ = Glibc.signal(SIGPIPE, SIG_IGN) }()

    /// Starts `program` with `arguments`, in `environment` (the test process's when nil), standard input from
    /// `/dev/null`.
    public static func start(
        _ program: String, _ arguments: [String], environment: [String: String]? = nil, output: Output = .null
    ) throws -> Subprocess {
        var actions = try SpawnActions()
        defer { actions.destroy() }
        try actions.open(0, "/dev/null", O_RDONLY)
        switch output {
        case .null:
            try actions.open(1, "/dev/null", O_WRONLY)
            try actions.dup(1, to: 2)
        case .inherit:
            break
        case .file(let path):
            try actions.open(1, path, O_WRONLY | O_CREAT | O_APPEND)
            try actions.dup(1, to: 2)
        case .errorsTo(let path):
            try actions.open(1, "/dev/null", O_WRONLY)
            try actions.open(2, path, O_WRONLY | O_CREAT | O_APPEND)
        }
        return Subprocess(pid: try actions.spawn(program, arguments, environment))
    }

    /// Runs `program` to its end on the caller's thread, `input` on its standard input, and returns its status
    /// (the exit code, or 128 + the signal that killed it) and what it wrote to standard output and error (with
    /// `errorsToOutput`, both in `output`, in the order written).
    public static func run(
        _ program: String, _ arguments: [String], environment: [String: String]? = nil, input: String? = nil,
        errorsToOutput: Bool = false
    ) throws -> (status: Int32, output: String, error: String) {
        let output = try Pipe()
        let errors = try Pipe()
        let standardInput = try input.map { _ in try Pipe() }
        var actions = try SpawnActions()
        defer { actions.destroy() }
        if let standardInput {
            try actions.dup(standardInput.read, to: 0)
        } else {
            try actions.open(0, "/dev/null", O_RDONLY)
        }
        try actions.dup(output.write, to: 1)
        try actions.dup(errorsToOutput ? output.write : errors.write, to: 2)
        // Every pipe end not closed here is closed when its Pipe goes, a failed spawn included.
        let child = Subprocess(pid: try actions.spawn(program, arguments, environment))
        output.closeWrite()
        errors.closeWrite()
        standardInput?.closeRead()
        let (out, err) = exchange(input: Array((input ?? "").utf8), to: standardInput, from: output.read, and: errors.read)
        return (child.waitUntilExit(), String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
    }

    /// Whether the child has not exited yet (reaps it when it has).
    public var isRunning: Bool {
        exit.withLock { status in
            guard status == nil else { return false }
            var raw: Int32 = 0
            let result = waitpid(pid, &raw, WNOHANG)
            if result == 0 || (result < 0 && errno != ECHILD) { return true }
            // Reaped now, or (ECHILD) by ``waitUntilExit()`` on another thread, which records the status.
            if result == pid { status = Self.status(raw) }
            return false
        }
    }

    /// Sends `signal` to the child, unless it has already been reaped.
    public func signal(_ signal: Int32) {
        exit.withLock { status in
            if status == nil { _ = kill(pid, signal) }
        }
    }

    public func terminate() { signal(SIGTERM) }

    /// How the child ended (as ``waitUntilExit()`` returns it), once it has been reaped; nil before.
    public var terminationStatus: Int32? { exit.withLock { $0 } }

    /// Blocks until the child exits; its exit code, or 128 + the signal that killed it.
    @discardableResult
    public func waitUntilExit() -> Int32 {
        if let status = exit.withLock({ $0 }) { return status }
        var raw: Int32 = 0
        while true {
            let result = waitpid(pid, &raw, 0)
            if result == pid { break }
            if result < 0, errno != EINTR {
                // Reaped by `isRunning` on another thread in the meantime.
                return exit.withLock { $0 } ?? -1
            }
        }
        let status = Self.status(raw)
        exit.withLock { $0 = status }
        return status
    }

    private static func status(_ raw: Int32) -> Int32 {
        let signal = raw & 0x7f
        return signal == 0 ? (raw >> 8) & 0xff : 128 + signal
    }

    /// Writes `input` to `inputDescriptor` (then closes it) while reading two descriptors to their ends, so a
    /// child that writes a lot before it reads its input never blocks on a full pipe.
    private static func exchange(input: [UInt8], to inputPipe: Pipe?, from first: Int32, and second: Int32)
        -> ([UInt8], [UInt8])
    {
        var collected: [[UInt8]] = [[], []]
        var open = [first, second]
        var writer = inputPipe?.write
        var written = 0
        if let writer { _ = fcntl(writer, F_SETFL, fcntl(writer, F_GETFL) | O_NONBLOCK) }
        if writer != nil, input.isEmpty {
            inputPipe?.closeWrite()
            writer = nil
        }
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while open.contains(where: { $0 >= 0 }) || writer != nil {
            var polled = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            if let writer { polled.append(pollfd(fd: writer, events: Int16(POLLOUT), revents: 0)) }
            guard poll(&polled, nfds_t(polled.count), -1) >= 0 || errno == EINTR else { break }
            for index in open.indices where open[index] >= 0 && polled[index].revents != 0 {
                let got = buffer.withUnsafeMutableBytes { read(open[index], $0.baseAddress, $0.count) }
                if got > 0 {
                    collected[index] += buffer[0..<got]
                } else if got == 0 || errno != EINTR {
                    open[index] = -1
                }
            }
            if let descriptor = writer, polled.count > 2, polled[2].revents != 0 {
                let sent = input[written...].withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
                if sent > 0 { written += sent }
                if written == input.count || (sent < 0 && errno != EAGAIN && errno != EINTR) {
                    inputPipe?.closeWrite()
                    writer = nil
                }
            }
        }
        return (collected[0], collected[1])
    }
}

/// A pipe whose ends are closed on exec: the child gets only what the file actions dup onto 0, 1 and 2. Each end
/// is closed once, when asked or when the pipe goes. (Swift's Glibc module has no `pipe2`.)
private final class Pipe: Sendable {
    let read: Int32
    let write: Int32
    private let open = Mutex((read: true, write: true))

    init() throws {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { throw FileSystemError.fromErrno("pipe", "a pipe", errno: errno) }
        // Every spawn here closes what it does not dup (closefrom); close-on-exec covers other spawners.
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        read = ends[0]
        write = ends[1]
    }

    func closeRead() {
        let wasOpen = open.withLock { ends in
            defer { ends.read = false }
            return ends.read
        }
        if wasOpen { close(read) }
    }

    func closeWrite() {
        let wasOpen = open.withLock { ends in
            defer { ends.write = false }
            return ends.write
        }
        if wasOpen { close(write) }
    }

    deinit {
        closeRead()
        closeWrite()
    }
}

/// posix_spawn's file actions and the spawn itself.
private struct SpawnActions {
    private var actions = posix_spawn_file_actions_t()

    init() throws {
        guard posix_spawn_file_actions_init(&actions) == 0 else {
            throw FileSystemError.fromErrno("posix_spawn_file_actions_init", "a spawn", errno: ENOMEM)
        }
    }

    mutating func destroy() { posix_spawn_file_actions_destroy(&actions) }

    mutating func open(_ descriptor: Int32, _ path: String, _ flags: Int32) throws {
        try check(posix_spawn_file_actions_addopen(&actions, descriptor, path, flags, 0o644), "open \(path)")
    }

    mutating func dup(_ descriptor: Int32, to target: Int32) throws {
        try check(posix_spawn_file_actions_adddup2(&actions, descriptor, target), "dup2")
    }

    /// Spawns `program`; every descriptor above 2 is closed in the child.
    mutating func spawn(_ program: String, _ arguments: [String], _ environment: [String: String]?) throws -> Int32 {
        try check(cmortar_spawn_close_from(&actions, 3), "closefrom")
        let argv = ([program] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        let envp: [UnsafeMutablePointer<CChar>?]? = environment.map { environment in
            environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        }
        defer { for pointer in envp ?? [] { free(pointer) } }
        // The child starts with every signal at its default and none blocked, in a process group of its own (as
        // Foundation's Process starts it). Not what the spawning thread has: Swift's concurrency threads block
        // nearly every signal, a mask a child would keep — etcd then runs without the SIGURG its Go runtime
        // preempts with, and under a loaded suite stopped answering; a daemon would not see SIGTERM.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        try check(posix_spawnattr_setpgroup(&attributes, 0), "process group")
        try check(cmortar_spawnattr_default_signals(&attributes, Int16(POSIX_SPAWN_SETPGROUP)), "signal attributes")
        var pid: Int32 = 0
        // Neither array is empty (each ends with its nil), so both base addresses exist.
        let result = argv.withUnsafeBufferPointer { argv -> Int32 in
            guard let arguments = argv.baseAddress else { return EINVAL }
            guard let envp else { return posix_spawn(&pid, program, &actions, &attributes, arguments, environ) }
            return envp.withUnsafeBufferPointer { envp in
                guard let variables = envp.baseAddress else { return EINVAL }
                return posix_spawn(&pid, program, &actions, &attributes, arguments, variables)
            }
        }
        guard result == 0 else { throw FileSystemError.fromErrno("posix_spawn", program, errno: result) }
        return pid
    }

    private func check(_ result: Int32, _ what: String) throws {
        guard result == 0 else { throw FileSystemError.fromErrno("posix_spawn file action", what, errno: result) }
    }
}
