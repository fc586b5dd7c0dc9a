import Glibc
import Logging
import MortarCore
import MortarSecurity
import MortarTransport
import MortarWire
import NIOCore
import NIOPosix
import ServiceLifecycle

/// A brick process's server: the brick's stack (topped by its lock layer) exposed on a TCP port and optionally a
/// Unix-domain socket. A `Service`, so SIGTERM stops it gracefully through the service group. Which layers make
/// the stack, in which order, is MortarBrick's (`BrickStack`) to decide.
public final class BrickService: Service {
    public let locks: LockLayer
    /// The volume options the brick enforces; replaced when they change.
    public let policy: ServerPolicy
    private let endpoints: [Endpoint]
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger
    private let server: RequestServer
    /// TLS (with the revocations the brick knows) or none.
    public let security: TransportSecurity
    /// Where local clients claim descriptors for short-circuit reads; served alongside the endpoints.
    private let handoff: DescriptorHandoffServer?

    /// - Parameters:
    ///   - locks: the top of the brick's stack; each connection's session serves it, and releases that
    ///     connection's locks in it when the connection goes.
    ///   - endpoints: where to listen; the first must succeed, or `run` throws.
    ///   - budget: how many connections, and open files per connection, the brick serves.
    ///   - policy: which client addresses may connect, and whose identity is squashed.
    ///   - security: TLS (clients need a certificate of the cluster's CA) or none.
    ///   - handoff: the descriptor hand-off of short-circuit local reads, if the brick has one.
    ///   - metrics: what the brick counts of its requests, answered to the daemon's metrics requests.
    ///   - profiler: `volume profile` and `volume top`, answered to the daemon's requests for them.
    public init(
        locks: LockLayer, endpoints: [Endpoint], security: TransportSecurity, budget: DescriptorBudget = .unlimited,
        policy: ServerPolicy = ServerPolicy(), eventLoopGroup: any EventLoopGroup, logger: Logger,
        handoff: DescriptorHandoffServer? = nil, metrics: BrickMetrics? = nil, profiler: BrickProfiler? = nil
    ) {
        self.handoff = handoff
        precondition(!endpoints.isEmpty, "a brick needs somewhere to listen")
        self.endpoints = endpoints
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
        self.locks = locks
        self.policy = policy
        self.security = security
        var refused: (@Sendable (RequestServer.Refusal) -> Void)?
        if let metrics { refused = { why in metrics.refused(why) } }
        let clients = ClientTable()
        let fences = MigrationFences()
        self.server = RequestServer(logger: logger, security: security, budget: budget, refused: refused) {
            connectionID, peer in
            // Root on the Unix socket may be this host's other bricks (which forward and heal) or an application
            // running as root: the address lists apply to what it does as a client, not to the cluster's roles.
            var clientRefusal: FileSystemError?
            if peer.identity == .localRoot {
                do throws(FileSystemError) { try policy.current.admit(nil) } catch { clientRefusal = error }
            } else {
                try policy.current.admit(
                    peer.address, certificateName: peer.identity?.name, isClusterHost: peer.identity?.role == .host)
            }
            let session = BrickSession(
                stack: locks, locks: locks, connectionID: connectionID,
                openFilesMax: budget.openFilesPerConnectionMax, policy: policy, peer: peer.identity,
                trustsClaimedRoles: security.context == nil || peer.identity?.role == .host,
                clientRefusal: clientRefusal, metrics: metrics, profiler: profiler, clients: clients,
                location: peer.location, clientName: peer.name, fences: fences, logger: logger)
            clients.add(connectionID, session)
            return session
        }
    }

    /// Cuts the connections of clients whose certificates were just revoked; returns how many.
    @discardableResult
    public func disconnect(revoked serials: Set<String>) -> Int {
        server.disconnect(serials: serials)
    }

    /// Binds every endpoint and returns the TCP port actually bound (useful with port 0 in tests).
    public func start() async throws -> BoundBrick {
        var channels = [try await server.bind(endpoints[0], eventLoopGroup: eventLoopGroup)]
        for endpoint in endpoints.dropFirst() {
            do {
                channels.append(try await server.bind(endpoint, eventLoopGroup: eventLoopGroup))
            } catch {
                // Extra endpoints (the local Unix socket) are a shortcut. Without it, a stale socket file left by an
                // earlier run would send local clients to nobody, so it goes; they then use TCP.
                logger.warning("not listening on \(endpoint), serving TCP only: \(error)")
                if case .unixSocket(let path) = endpoint { unlink(path) }
            }
        }
        let port = channels.lazy.compactMap { $0.channel.localAddress?.port }.first
        logger.info("brick listening", metadata: ["endpoints": "\(endpoints.map(\.description))"])
        return BoundBrick(channels: channels, port: port, handoff: handoff)
    }

    /// Serves until the task is cancelled or graceful shutdown is triggered.
    public func run() async throws {
        let bound = try await start()
        try await serve(bound)
    }

    public func serve(_ bound: BoundBrick) async throws {
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                for channel in bound.channels {
                    group.addTask { try await self.server.serve(channel) }
                }
                if let handoff = bound.handoff {
                    group.addTask { try await handoff.run() }
                }
            }
        } onGracefulShutdown: {
            self.logger.info("brick shutting down")
            bound.close()
        }
    }
}

/// The listening channels of a started brick.
public struct BoundBrick: Sendable {
    let channels: [RequestServer.Listener]
    /// The TCP port bound, if any endpoint is TCP.
    public let port: Int?
    let handoff: DescriptorHandoffServer?

    /// Stops accepting connections and descriptor claims (tests use it to simulate a brick going away).
    public func close() {
        for channel in channels { channel.channel.close(promise: nil) }
        handoff?.stop()
    }
}
