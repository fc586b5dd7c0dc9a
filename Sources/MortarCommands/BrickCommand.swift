import ArgumentParser
import CMortarLinux
import Glibc
import Logging
import MortarBrick
import MortarBrickServer
import MortarCore
import MortarManagementAPI
import MortarSecurity
import MortarTransport
import NIOPosix

/// `mortar brick`: one brick process serving one exported directory. The daemon starts these; running one by
/// hand is useful for tests and debugging.
struct BrickCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "brick", abstract: "Serve one exported directory as a brick (started by the daemon).")

    @Option(help: "The directory to export.") var export: String
    @Option(help: "TCP port to listen on (0 picks a free one and prints it).") var port: Int
    @Option(help: "Address to listen on (and loopback too, when it is another single address).")
    var listenHost: String = "0.0.0.0"
    @Option(help: "Also listen on this Unix-domain socket.") var unixSocket: String?
    @Option(help: "The volume this brick belongs to (for logs).") var volume: String = "-"
    @Option(help: "The brick's position in its volume (for logs).") var brickIndex: Int = 0
    @Flag(help: "Count what the brick serves, for the daemon's metrics scrapes (the daemon passes it when it serves metrics).")
    var metrics = false
    @Flag(help: "Exit when the parent process exits (for another supervisor; mortar daemon leaves its bricks running).") var exitWithParent = false
    @Option(help: "The manager's HOST:PORT; a brick of a replicated volume learns its replica set there, and every brick follows its volume's options.")
    var manager: String?
    @Option(help: "Another daemon's HOST:PORT, asked when the --manager one cannot be reached (repeatable; with the catalog on etcd every daemon answers for the cluster).")
    var alternateManager: [String] = []
    @Option(help: "A volume option NAME=VALUE to enforce from the start (repeatable; see `mortar volume set`).")
    var volumeOption: [String] = []
    @Option(help: "Directory with this host's certificate (glusterfs.pem, glusterfs.key, glusterfs.ca; the daemon passes its own).")
    var tlsDir: String?
    @Flag(help: "Serve without TLS: anyone who reaches the port is trusted (only for a daemon run with --insecure).")
    var insecure = false

    func validate() throws {
        guard (tlsDir != nil) != insecure else { throw ValidationError("give exactly one of --tls-dir DIR and --insecure") }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0…65535, got \(port)") }
        _ = try managers()
        _ = try initialOptions()
    }

    func run() async throws {
        try await reportingFailure { try await execute() }
    }

    private func execute() async throws {
        if exitWithParent, cmortar_exit_with_parent(getppid()) != 0 {
            throw ValidationError("the parent process is already gone")
        }
        LogLines.bootstrap()
        var logger = Logger(label: "mortar.brick")
        logger.logLevel = LogLines.level(default: .info)
        logger[metadataKey: "volume"] = "\(volume)"
        logger[metadataKey: "brick.index"] = "\(brickIndex)"
        let threadPool = NIOThreadPool(numberOfThreads: Limits.brickIOThreadCount)
        threadPool.start()
        var replica = BrickReplicaSource.none
        let managers = try managers()
        if !managers.isEmpty {
            replica = .manager(servers: managers, volume: volume, brickIndex: brickIndex)
        }
        var endpoints: [Endpoint] = [.tcp(host: listenHost, port: port)]
        // A brick kept to one address still answers on loopback, where this host's daemon and clients that name
        // the brick 127.0.0.1 or localhost reach it; loopback is reachable from this host only.
        if !["0.0.0.0", "::", "127.0.0.1", "localhost", "::1"].contains(listenHost), port != 0 {
            endpoints.append(.tcp(host: "127.0.0.1", port: port))
        }
        if let unixSocket { endpoints.append(.unixSocket(path: unixSocket)) }
        let descriptors = cmortar_raise_descriptor_limit()
        guard descriptors > 0 else { throw FileSystemError.fromErrno("getrlimit(RLIMIT_NOFILE)", "brick") }
        let budget = DescriptorBudget(descriptors: Int(descriptors))
        logger.info("descriptor limit \(descriptors): serving up to \(budget)")
        let security: TransportSecurity = try tlsDir.map { .tls(try TLSContext(directory: $0)) } ?? .insecure
        if let identity = security.context?.identity, identity.role != .host {
            throw FileSystemError.invalidArgument("a brick needs a host certificate; \(tlsDir ?? "") holds \(identity)")
        }
        let brick = try await BrickStack.assemble(
            export: export, endpoints: endpoints, replica: replica, threadPool: threadPool, security: security,
            budget: budget, policy: ServerPolicy(try initialOptions()), logger: logger,
            metrics: metrics ? (volume: volume, brick: brickIndex) : nil)
        let bound = try await brick.start()
        if port == 0, let boundPort = bound.port { print("listening on port \(boundPort)") }
        try await brick.run(bound)
        try await threadPool.shutdownGracefully()
        logger.info("brick stopped")
    }
}

extension BrickCommand {
    /// `--manager` then every `--alternate-manager`, in the order they are asked; empty without `--manager`.
    func managers() throws -> [ManagementClient.Address] {
        guard let manager else {
            guard alternateManager.isEmpty else { throw ValidationError("--alternate-manager needs --manager") }
            return []
        }
        guard alternateManager.count <= Limits.brickAlternateManagersMax else {
            throw ValidationError(
                "at most \(Limits.brickAlternateManagersMax) --alternate-manager, got \(alternateManager.count)")
        }
        return try ([manager] + alternateManager).map { text in
            // Port 0 stands for "none given": a manager's port must be named.
            guard let (host, port) = try? ManagementClient.parseAddress(text, defaultPort: 0), port > 0 else {
                throw ValidationError("a manager must be HOST:PORT, got '\(text)'")
            }
            return ManagementClient.Address(host: host, port: port)
        }
    }

    /// The `--volume-option` values as typed options; a malformed or unknown one is a usage error.
    func initialOptions() throws -> VolumeOptions {
        var values: [String: String] = [:]
        for text in volumeOption {
            guard let equals = text.firstIndex(of: "=") else {
                throw ValidationError("--volume-option takes NAME=VALUE, got '\(text)'")
            }
            values[String(text[..<equals])] = String(text[text.index(after: equals)...])
        }
        do {
            return try VolumeOptions(values)
        } catch {
            throw ValidationError("--volume-option: \(error.message)")
        }
    }
}
