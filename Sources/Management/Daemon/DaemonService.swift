import Logging
import MortarCore
import NIOCore
import NIOPosix
import ServiceLifecycle

/// The daemon as a swift-service-lifecycle service: graceful shutdown (SIGTERM in `mortar daemon`) stops the
/// listener before ``run()`` returns and leaves this host's bricks serving for the next daemon to adopt.
public struct DaemonService: Service {
    public let configuration: DaemonConfiguration
    public let eventLoopGroup: any EventLoopGroup
    public let logger: Logger
    /// What runs `volume rebalance` (see ``VolumeRebalancing``).
    public let rebalancer: (any VolumeRebalancing)?

    public init(configuration: DaemonConfiguration,
                eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger,
                rebalancer: (any VolumeRebalancing)? = nil) {
        self.rebalancer = rebalancer
        self.configuration = configuration
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
    }

    public func run() async throws {
        let daemon = try await Daemon.start(
            configuration: configuration, eventLoopGroup: eventLoopGroup, logger: logger, rebalancer: rebalancer)
        await withGracefulShutdownHandler {
            await daemon.run()
        } onGracefulShutdown: {
            daemon.shutdown()
        }
    }
}
