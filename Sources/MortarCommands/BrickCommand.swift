import ArgumentParser
import CMortarLinux
import Glibc
import Logging
import MortarBrickServer
import MortarCore
import MortarPosixStorage
import MortarReplicaMember
import MortarTransport
import NIOCore
import NIOPosix
import ServiceLifecycle
import UnixSignals

/// `mortar brick`: one brick process serving one exported directory. The daemon starts these; running one by
/// hand is useful for tests and debugging.
struct BrickCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "brick", abstract: "Serve one exported directory as a brick (started by the daemon).")

    @Option(help: "The directory to export.") var export: String
    @Option(help: "TCP port to listen on (0 picks a free one and prints it).") var port: Int
    @Option(help: "Address to listen on.") var listenHost: String = "0.0.0.0"
    @Option(help: "Also listen on this Unix-domain socket.") var unixSocket: String?
    @Option(help: "The volume this brick belongs to (for logs).") var volume: String = "-"
    @Option(help: "The brick's position in its volume (for logs).") var brickIndex: Int = 0
    @Flag(help: "Exit when the parent process (the daemon) exits.") var exitWithParent = false
    @Option(help: "The manager's HOST:PORT; a brick of a replicated volume learns its replica set there.")
    var manager: String?

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0…65535, got \(port)") }
        if let manager, ServerAddressText(manager) == nil {
            throw ValidationError("--manager must be HOST:PORT, got '\(manager)'")
        }
    }

    func run() async throws {
        try await reportingFailure { try await execute() }
    }

    private func execute() async throws {
        if exitWithParent, cmortar_exit_with_parent(getppid()) != 0 {
            throw ValidationError("the parent process is already gone")
        }
        var logger = Logger(label: "mortar.brick")
        logger[metadataKey: "volume"] = "\(volume)"
        logger[metadataKey: "brick.index"] = "\(brickIndex)"
        let threadPool = NIOThreadPool(numberOfThreads: Limits.brickIOThreadCount)
        threadPool.start()
        let posix = try await PosixStorage.prepare(root: export, threadPool: threadPool, logger: logger)
        var storage: any FileOperations = posix
        var replication: BrickReplication?
        if let manager, let address = ServerAddressText(manager) {
            replication = try await BrickReplication.prepare(
                manager: address, volume: volume, brickIndex: brickIndex, export: export, storage: posix,
                logger: logger)
            if let replication { storage = replication.layer }
        }
        var endpoints: [Endpoint] = [.tcp(host: listenHost, port: port)]
        if let unixSocket {
            let directory = String(unixSocket[..<(unixSocket.lastIndex(of: "/") ?? unixSocket.endIndex)])
            if !directory.isEmpty, mkdir(directory, 0o755) != 0, errno != EEXIST {
                logger.warning("cannot create \(directory) for the brick's local socket; serving TCP only")
            } else {
                endpoints.append(.unixSocket(path: unixSocket))
            }
        }
        let brick = BrickService(
            storage: storage, endpoints: endpoints, eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
            logger: logger)
        let bound = try await brick.start()
        if port == 0, let boundPort = bound.port { print("listening on port \(boundPort)") }
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: BoundBrickService(brick: brick, bound: bound))
        ]
        if let replication {
            services.append(.init(service: HealService(worker: replication.worker)))
            services.append(.init(service: SpecFollowService(agent: replication.agent)))
        }
        let group = ServiceGroup(
            configuration: .init(
                services: services,
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        replication?.agent.shutdown()
        try await threadPool.shutdownGracefully()
        logger.info("brick stopped")
    }
}

/// Runs an already bound brick as a service (binding first lets `--port 0` report its port before serving).
private struct BoundBrickService: Service {
    let brick: BrickService
    let bound: BoundBrick

    func run() async throws {
        try await reportingFailure { try await execute() }
    }

    private func execute() async throws {
        try await brick.serve(bound)
    }
}

/// The heal worker as a service: runs until the brick shuts down.
private struct HealService: Service {
    let worker: HealWorker

    func run() async throws {
        await cancelWhenGracefulShutdown { await worker.run() }
    }
}

/// Follows the volume's spec when a pushed view moves to a new epoch (replace-brick moved a member), until the
/// brick shuts down.
private struct SpecFollowService: Service {
    let agent: ManagerAgent

    func run() async throws {
        await cancelWhenGracefulShutdown { await agent.followSpec() }
    }
}
