import Foundation
import Mortar
import MortarCore
import MortarManagementAPI
import MortarSecurity
import MortarTesting
import Synchronization
import Testing

/// The outcome of running the `mortar` binary.
struct CommandResult {
    var status: Int32
    var output: String
    var error: String

    var succeeded: Bool { status == 0 }
}

/// A real daemon process on loopback with its own state directory and port range, driven through the real CLI.
/// Every test gets its own, so tests can run in parallel.
final class ProcessCluster: @unchecked Sendable {
    static let binary: String = {
        if let path = ProcessInfo.processInfo.environment["MORTAR_BINARY"] { return path }
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return packageRoot.appendingPathComponent(".build/debug/mortar").path
    }()

    private static let clusterCounter = Atomic<Int>(0)

    let directory: String
    /// The cluster's CA: the daemon runs with its `host` certificate, the CLI (``run(_:)``) with `admin`.
    let certificates: TestCertificates
    let daemonPort: Int
    let brickPortMin: Int
    /// The loopback address the daemon (and its bricks) listen on: one "host" of a multi-daemon test.
    let listenHost: String
    /// etcd client URLs the daemon keeps the catalog in, shared with other daemons; nil: a catalog file.
    let etcd: String?
    /// Where the daemon serves `GET /metrics`, when asked for (`metrics: true`).
    let metricsPort: Int?
    private(set) var daemon: Subprocess?

    var manager: String { "\(listenHost):\(daemonPort)" }

    /// A cluster of its own, or with `etcd` one host of a cluster whose daemons share it (and `certificates`).
    init(
        listenHost: String = "127.0.0.1", certificates shared: TestCertificates? = nil, etcd: String? = nil,
        metrics: Bool = false
    ) throws {
        let number = Self.clusterCounter.wrappingAdd(1, ordering: .relaxed).newValue
        directory = try Self.makeTemporaryDirectory()
        certificates = try shared ?? TestCertificates(directory: directory + "/tls")
        self.listenHost = listenHost
        self.etcd = etcd
        daemonPort = try Self.freePort()
        metricsPort = metrics ? try Self.freePort() : nil
        // Below the ephemeral range (32768+), and apart from the daemon tests' 20000–29615.
        brickPortMin = 10_000 + Int(getpid() % 100) * 80 + number * 10
    }

    /// The daemon's process ID, once started.
    var daemonProcessID: Int32? { daemon?.pid }

    /// Starts the daemon and waits (bounded) until it answers.
    func startDaemon() async throws {
        let process = try Subprocess.start(
            Self.binary,
            [
                "daemon", "--state-dir", directory + "/state", "--listen", manager,
                "--brick-port-min", String(brickPortMin), "--tls-dir", certificates.hostDirectory,
            ] + (etcd.map { ["--etcd", $0] } ?? []) + (metricsPort.map { ["--metrics-listen", "\(listenHost):\($0)"] } ?? []),
            output: .file(try logPath()))
        daemon = process
        // Generous: the suite starts many daemons at once on two cores.
        try await waitUntil("the daemon answers on \(manager)", seconds: 90) {
            (try? await self.run("volume", "list"))?.succeeded == true
        }
    }

    /// The daemon's log; a restarted daemon appends to it.
    private func logPath() throws -> String {
        let path = directory + "/daemon.log"
        if !FileManager.default.fileExists(atPath: path) {
            _ = FileManager.default.createFile(atPath: path, contents: nil)
        }
        return path
    }

    /// Stops the daemon with `signal` (SIGTERM by default) and waits for it to exit. Its bricks go on serving.
    func stopDaemon(signal: Int32 = SIGTERM) async throws {
        guard let daemon, daemon.isRunning else { return }
        daemon.signal(signal)
        try await waitUntil("the daemon exits after signal \(signal)", seconds: 60) { !daemon.isRunning }
        self.daemon = nil
    }

    /// The environment of a CLI or client process of this cluster: its manager, and the admin's credentials.
    var clientEnvironment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["MORTAR_MANAGER"] = manager
        environment[TLSFiles.directoryVariable] = certificates.adminDirectory
        return environment
    }

    /// Connects the client library to `volume` of this cluster with the credentials in `credentials` (default: the
    /// `client` certificate's).
    func connect(_ volume: String, credentials: String? = nil) async throws -> Volume {
        try await Volume.connect(
            volume: volume, servers: [ServerAddress(host: listenHost, port: daemonPort)],
            tlsDirectory: credentials ?? certificates.clientDirectory)
    }

    /// A management client of the daemon holding the credentials in `credentials` (default: the admin's).
    func managementClient(credentials: String? = nil) throws -> ManagementClient {
        ManagementClient(
            host: listenHost, port: daemonPort,
            security: try TestCertificates.security(credentials ?? certificates.adminDirectory))
    }

    /// Runs `mortar ARGS…` against this cluster's daemon and returns its status and output. The wait happens on a
    /// thread of its own (``runBlocking(_:)``), never on the cooperative pool other tests need.
    func run(_ arguments: String...) async throws -> CommandResult {
        try await run(arguments)
    }

    func run(_ arguments: [String]) async throws -> CommandResult {
        try await runBlocking { try self.runWaiting(arguments) }
    }

    /// ``run(_:)`` on the caller's thread, for the few places that cannot suspend (a `defer`).
    func runWaiting(_ arguments: String...) throws -> CommandResult {
        try runWaiting(arguments)
    }

    func runWaiting(_ arguments: [String]) throws -> CommandResult {
        try Self.runProgram(Self.binary, arguments, environment: clientEnvironment)
    }

    /// Runs `program` to its end on the caller's thread, with `input` on its standard input, and returns its
    /// status and output.
    static func runProgram(
        _ program: String, _ arguments: [String], environment: [String: String]? = nil, input: String? = nil
    ) throws -> CommandResult {
        let (status, output, error) = try Subprocess.run(program, arguments, environment: environment, input: input)
        return CommandResult(status: status, output: output, error: error)
    }

    /// Runs a command that must succeed; a failure records its output.
    @discardableResult
    func expectSuccess(_ arguments: String..., sourceLocation: SourceLocation = #_sourceLocation) async throws
        -> CommandResult
    {
        try await expectSuccess(arguments, sourceLocation: sourceLocation)
    }

    @discardableResult
    func expectSuccess(_ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) async throws
        -> CommandResult
    {
        let result = try await run(arguments)
        #expect(result.succeeded, "mortar \(arguments.joined(separator: " ")) failed: \(result.error)",
                sourceLocation: sourceLocation)
        return result
    }

    /// Runs a command that must fail with one line on stderr containing `reason`.
    func expectFailure(_ arguments: String..., mentioning reason: String, sourceLocation: SourceLocation = #_sourceLocation)
        async throws
    {
        try await expectFailure(arguments, mentioning: reason, sourceLocation: sourceLocation)
    }

    func expectFailure(_ arguments: [String], mentioning reason: String, sourceLocation: SourceLocation = #_sourceLocation)
        async throws
    {
        let result = try await run(arguments)
        #expect(!result.succeeded, "mortar \(arguments.joined(separator: " ")) should fail", sourceLocation: sourceLocation)
        #expect(result.error.localizedCaseInsensitiveContains(reason),
                "stderr of mortar \(arguments.joined(separator: " ")) should mention '\(reason)': \(result.error)",
                sourceLocation: sourceLocation)
        let lines = result.error.split(separator: "\n").filter { !$0.isEmpty }
        #expect(lines.count == 1, "expected a one-line reason, got: \(result.error)", sourceLocation: sourceLocation)
    }

    func makeBrickDirectory(_ name: String) throws -> String {
        let path = directory + "/bricks/" + name
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Brick pids and online flags, from `volume status --json`.
    func brickProcesses(_ volume: String) async throws -> [(pid: Int32?, online: Bool)] {
        let result = try await run("volume", "status", volume, "--json")
        guard result.succeeded, let data = result.output.data(using: .utf8),
            let object = try JSONSerialization.jsonObject(with: data) as? [String: Any],
            let bricks = object["bricks"] as? [[String: Any]]
        else { throw FileSystemError.protocolError("unreadable volume status: \(result.output) \(result.error)") }
        return bricks.map { ((($0["pid"] as? NSNumber)?.int32Value), ($0["online"] as? Bool) ?? false) }
    }

    func tearDown() async {
        if let volumes = try? await run("volume", "list").output.split(separator: "\n") {
            for volume in volumes { _ = try? await run("volume", "stop", String(volume)) }
        }
        try? await stopDaemon()
        // MORTAR_KEEP_CLUSTERS=1 keeps the directories (logs, brick contents) for a look after a failure.
        guard ProcessInfo.processInfo.environment["MORTAR_KEEP_CLUSTERS"] == nil else { return }
        try? FileManager.default.removeItem(atPath: directory)
    }

    static func makeTemporaryDirectory() throws -> String {
        var template = Array("/tmp/mortar-it-XXXXXX".utf8CString)
        guard let pointer = mkdtemp(&template) else { throw FileSystemError.fromErrno("mkdtemp", "/tmp") }
        return String(cString: pointer)
    }

    /// A TCP port nobody listens on right now (``freeLoopbackPort()``).
    static func freePort() throws -> Int {
        try freeLoopbackPort()
    }
}

/// Polls `condition` until it holds, failing after `seconds`: a bounded wait for something another process does,
/// never a fixed sleep.
func waitUntil(_ what: String, seconds: Double, _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(100))
    }
    throw FileSystemError(.timedOut, "gave up after \(seconds) s waiting until \(what)")
}
