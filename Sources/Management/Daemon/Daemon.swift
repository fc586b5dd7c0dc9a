import Logging
import MortarCore
import Synchronization
import MortarSecurity
import NIOCore
import NIOPosix

/// A running mortar daemon: manager of its catalog, agent of its host, and the HTTP listener for both. Tests
/// start one on port 0 and read ``port``; `mortar daemon` runs one inside ``DaemonService``.
public final class Daemon: Sendable {
    let configuration: DaemonConfiguration
    let server: ManagementServer
    let manager: Manager
    let agent: HostAgent
    let monitor: ReplicaMonitor
    /// Runs the rebalances in progress while this daemon holds the manager role.
    let rebalances: RebalanceWorker
    /// The `GET /metrics` listener and what it answers, when the configuration asks for one.
    let metrics: (server: ManagementServer, endpoint: MetricsEndpoint)?
    let logger: Logger
    /// Whether ``run()`` stops this host's bricks when it ends (``shutdown(stoppingBricks:)``).
    private let stopsBricks = Atomic<Bool>(false)

    /// Loads (or creates) the state directory and binds the listener; serving begins with ``run()``.
    /// `rebalancer` runs `volume rebalance` (a daemon without one records a rebalance it should run as failed).
    public static func start(
        configuration: DaemonConfiguration, eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "mortar.daemon"), rebalancer: (any VolumeRebalancing)? = nil
    ) async throws(FileSystemError) -> Daemon {
        try AtomicFile.makeDirectory(configuration.stateDirectory)
        let security: TransportSecurity = try configuration.tlsDirectory.map { directory throws(FileSystemError) in
            let context = try TLSContext(directory: directory)
            guard context.identity.role == .host else {
                throw FileSystemError.invalidArgument(
                    "the daemon needs a host certificate; \(directory) holds \(context.identity) (issue one with `mortar cert issue NAME --role host`)")
            }
            return .tls(context)
        } ?? .insecure
        if security.context == nil {
            logger.warning("running without TLS (--insecure): anyone who reaches the management and brick ports is trusted")
        }
        let agent = try HostAgent(configuration: configuration, eventLoopGroup: eventLoopGroup, logger: logger)
        let manager = try await Manager(configuration: configuration, localAgent: agent, security: security,
                                        eventLoopGroup: eventLoopGroup, logger: logger)
        let server = try await ManagementServer.bind(
            host: configuration.listenHost, port: configuration.listenPort,
            requestTimeoutMilliseconds: configuration.requestTimeoutMilliseconds, security: security,
            group: eventLoopGroup, logger: logger)
        do {
            try await manager.setListenPort(server.port)
        } catch {
            server.close()
            throw FileSystemError(error.code, "cannot register this daemon in the catalog: \(error.message)")
        }
        let monitor = ReplicaMonitor(manager: manager, eventLoopGroup: eventLoopGroup, logger: logger)
        var metrics: (server: ManagementServer, endpoint: MetricsEndpoint)?
        if let listen = configuration.metricsListen {
            do {
                // Plain HTTP: Prometheus scrapes exporters without client certificates.
                let metricsServer = try await ManagementServer.bind(
                    host: listen.host, port: listen.port,
                    requestTimeoutMilliseconds: configuration.requestTimeoutMilliseconds, security: .insecure,
                    group: eventLoopGroup, logger: logger)
                let endpoint = MetricsEndpoint(
                    metrics: DaemonMetrics(), supervisor: agent.supervisor, manager: manager, security: security,
                    eventLoopGroup: eventLoopGroup, logger: logger)
                metrics = (metricsServer, endpoint)
            } catch {
                server.close()
                throw FileSystemError(error.code, "metrics: \(error.message)")
            }
        }
        return Daemon(
            configuration: configuration, server: server, manager: manager, agent: agent, monitor: monitor,
            rebalances: RebalanceWorker(manager: manager, rebalancer: rebalancer, logger: logger), metrics: metrics,
            logger: logger)
    }

    private init(configuration: DaemonConfiguration, server: ManagementServer, manager: Manager, agent: HostAgent,
                 monitor: ReplicaMonitor, rebalances: RebalanceWorker,
                 metrics: (server: ManagementServer, endpoint: MetricsEndpoint)?, logger: Logger) {
        self.rebalances = rebalances
        self.metrics = metrics
        self.monitor = monitor
        self.configuration = configuration
        self.server = server
        self.manager = manager
        self.agent = agent
        self.logger = logger
    }

    /// The management port the daemon listens on.
    public var port: Int { server.port }
    /// The port `GET /metrics` answers on, when it is served.
    public var metricsPort: Int? { metrics?.server.port }

    /// Serves requests and supervises bricks until ``shutdown(stoppingBricks:)``; then leaves this host's bricks
    /// serving (the next daemon adopts them), or stops them, and returns.
    public func run() async {
        logger.info("mortar daemon listening", metadata: [
            "address": "\(configuration.listenHost):\(port)", "stateDirectory": "\(configuration.stateDirectory)",
        ])
        let router = Router(manager: manager, agent: agent, monitor: monitor, host: configuration.advertisedHost)
        await withDiscardingTaskGroup { group in
            group.addTask { await self.agent.supervisor.run() }
            await agent.resume()
            await manager.resume()
            // Heartbeats get a group of their own: they stop (cancelled and awaited) when serving ends, before the
            // bricks they probe are stopped, while the supervisor goes on until its shutdown.
            await withDiscardingTaskGroup { heartbeats in
                heartbeats.addTask { await self.monitor.run() }
                heartbeats.addTask { await self.manager.role.run() }
                heartbeats.addTask { await self.rebalances.run() }
                if let metrics {
                    logger.info("serving metrics", metadata: ["address": "\(metrics.server.listener.channel.localAddress.map { "\($0)" } ?? "?")"])
                    heartbeats.addTask { await metrics.server.serve(metrics.endpoint) }
                }
                await server.serve(router)
                metrics?.server.close()
                heartbeats.cancelAll()
            }
            await manager.role.resign()
            if stopsBricks.load(ordering: .acquiring) {
                await agent.supervisor.shutdown()
                logger.info("stopped this host's bricks")
            } else {
                await agent.supervisor.release()
                logger.info("leaving this host's bricks serving; the next daemon adopts them")
            }
        }
        logger.info("mortar daemon stopped")
    }

    /// Stops accepting requests; ``run()`` then finishes the open ones and returns. Bricks go on serving unless
    /// `stoppingBricks`: a daemon's restart or upgrade is no outage of its host's bricks (`volume stop` and
    /// `mortar down` stop them).
    public func shutdown(stoppingBricks: Bool = false) {
        stopsBricks.store(stoppingBricks, ordering: .releasing)
        server.close()
        metrics?.server.close()
    }
}
