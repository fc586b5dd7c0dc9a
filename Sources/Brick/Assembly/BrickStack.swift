import Glibc
import Logging
import MortarBrickServer
import MortarCore
import MortarPosixStorage
import MortarManagementAPI
import MortarReplicaMember
import MortarSecurity
import MortarTransport
import NIOCore
import NIOPosix
import ServiceLifecycle
import UnixSignals

/// Where a brick learns whether it is a member of a replica set, and how it reaches the set.
public enum BrickReplicaSource: Sendable {
    /// Not a member of a replica set: no member layer.
    case none
    /// Asks the daemons at `servers` (`mortar brick --manager`, then each `--alternate-manager` when the ones
    /// before cannot be reached), retrying while none answers or the volume is not started; a brick of a volume
    /// that is not replicated gets no member layer.
    case manager(servers: [ManagementClient.Address], volume: String, brickIndex: Int)
    /// A member whose views, reports and peers come from `agent` (in-process tests use an in-memory manager).
    case agent(any ReplicaSetAgent)
}

/// The brick a `mortar brick` process runs, assembled in one place so that in-process tests serve exactly the same
/// stack. From the bottom: `PosixStorage` over the export, the replica member layer (members of a replica set
/// only), `PermissionLayer`, `LockLayer`, then the `BrickService` whose per-connection `BrickSession`s serve it.
public final class BrickStack: Sendable {
    /// The bottom of the stack.
    public let storage: PosixStorage
    /// The member layer, for a member of a replica set.
    public let replicaMember: ReplicaMemberLayer?
    /// The member's heal worker (run by ``run(_:)``; tests may run it themselves instead).
    public let healWorker: HealWorker?
    /// The server over the top of the stack.
    public let service: BrickService
    /// The manager's side of the set, when the manager placed this brick: its spec follower runs with the brick,
    /// and its connections to the other members close when the brick stops.
    private let managerAgent: ManagerAgent?
    /// Where the volume's options come from, when the manager placed this brick.
    private let optionsFollower: VolumeOptionsFollower?
    private let logger: Logger

    private init(
        storage: PosixStorage, replicaMember: ReplicaMemberLayer?, healWorker: HealWorker?, service: BrickService,
        managerAgent: ManagerAgent?, optionsFollower: VolumeOptionsFollower?, logger: Logger
    ) {
        self.storage = storage
        self.replicaMember = replicaMember
        self.healWorker = healWorker
        self.service = service
        self.managerAgent = managerAgent
        self.optionsFollower = optionsFollower
        self.logger = logger
    }

    /// Builds the brick's stack over `export`, listening (once started) on `endpoints`.
    ///
    /// - Parameters:
    ///   - endpoints: the first must bind; the directory of a Unix-domain socket is created if missing, and a
    ///     socket whose directory cannot be made is left out (local clients then use TCP).
    ///   - replica: whether the brick is a member of a replica set; with `.manager` this waits for the manager.
    ///   - threadPool: runs the storage's file-system calls; the caller owns it and shuts it down after the brick.
    ///   - budget: connections and open files the brick serves (a brick process derives it from its descriptor
    ///     limit; in-process tests take every `Limits` value).
    ///   - policy: the volume options the brick starts with; with `.manager` they are followed from then on.
    ///   - security: TLS with the host's certificate (clients must present one of the cluster's CA; the brick
    ///     presents its own to the other members and the manager), or none.
    ///   - aboveStorage: wraps the storage before anything is put over it — the identity in a brick process; tests
    ///     put a fault-injecting layer (`LayerHarness`) here, under the member layer.
    ///   - metrics: the volume and the brick's position in it, labels of the brick's metrics (answered to the
    ///     daemon's scrapes); nil counts nothing.
    public static func assemble(
        export: String, endpoints: [Endpoint], replica: BrickReplicaSource = .none, threadPool: NIOThreadPool,
        security: TransportSecurity, budget: DescriptorBudget = .unlimited, policy: ServerPolicy = ServerPolicy(),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger,
        aboveStorage: (any FileOperations) -> any FileOperations = { $0 },
        metrics labels: (volume: String, brick: Int)? = nil
    ) async throws -> BrickStack {
        let endpoints = listenable(endpoints, logger: logger)
        let localSocket = endpoints.lazy.compactMap { if case .unixSocket(let path) = $0 { path } else { nil } }.first
        let handoff = localSocket.flatMap { localReadHandoff(besides: $0, security: security, logger: logger) }
        let posix = try await PosixStorage.prepare(
            root: export, threadPool: threadPool, logger: logger, openFilesMax: budget.openFilesMax,
            directoriesCachedMax: budget.directoriesCachedMax, localReads: handoff?.grants)
        let storage = aboveStorage(posix)
        var replicaMember: ReplicaMemberLayer?
        var healWorker: HealWorker?
        var managerAgent: ManagerAgent?
        switch replica {
        case .none:
            break
        case .manager(let servers, let volume, let brickIndex):
            if let replication = try await BrickReplication.prepare(
                managers: servers, volume: volume, brickIndex: brickIndex, export: export,
                storage: storage, security: security, logger: logger)
            {
                replicaMember = replication.layer
                healWorker = replication.worker
                managerAgent = replication.agent
            }
        case .agent(let agent):
            let layer = try BrickReplication.memberLayer(agent: agent, export: export, storage: storage, logger: logger)
            replicaMember = layer
            healWorker = HealWorker(layer: layer, logger: logger)
        }
        if let replicaMember, let localSocket, handoff != nil {
            publishMemberState(replicaMember, socket: localSocket, security: security, logger: logger)
        }
        // Permissions above the member layer, so a change the caller may not make is refused before anything is
        // ordered, recorded for absent members or forwarded; locks on top, where each connection's session
        // releases the locks it held when it goes.
        let locks = LockLayer(next: PermissionLayer(next: replicaMember ?? storage))
        var replicaReading: (@Sendable () -> BrickMetrics.ReplicaReading)?
        if let member = replicaMember {
            replicaReading = {
                let (view, position) = member.currentView
                return BrickMetrics.ReplicaReading(view: view, member: position, status: member.status)
            }
        }
        let readReplica = replicaReading
        let metrics = labels.map { labels in
            BrickMetrics(
                volume: labels.volume, brick: labels.brick, export: export, openFiles: { posix.openHandleCount },
                queued: { posix.queuedJobCount },
                replica: readReplica)
        }
        if let metrics, let replicaMember {
            replicaMember.observeForwards { member, took, failed in
                metrics.recordForward(to: member, took: took, failed: failed)
            }
        }
        let profiler = BrickProfiler(policy: policy, directoryPaths: { await posix.directoryPaths($0) })
        let service = BrickService(
            locks: locks, endpoints: endpoints, security: security, budget: budget,
            policy: policy, eventLoopGroup: eventLoopGroup, logger: logger, handoff: handoff?.server, metrics: metrics,
            profiler: profiler)
        var optionsFollower: VolumeOptionsFollower?
        if case .manager(let servers, let volume, _) = replica {
            optionsFollower = VolumeOptionsFollower(
                manager: ManagementClient(servers: servers, security: security), volume: volume,
                policy: policy, revocations: security.context?.revocations, service: service, logger: logger)
        }
        return BrickStack(
            storage: posix, replicaMember: replicaMember, healWorker: healWorker, service: service,
            managerAgent: managerAgent, optionsFollower: optionsFollower, logger: logger)
    }

    /// Binds every endpoint (see ``BrickService/start()``); binding before serving lets `--port 0` report its port.
    public func start() async throws -> BoundBrick {
        try await service.start()
    }

    /// Serves `bound` until SIGTERM or SIGINT: the brick, and for a member its heal worker and (when the manager
    /// placed it) its spec follower, as one service group that shuts down gracefully; then closes the connections
    /// to the other members.
    public func run(_ bound: BoundBrick) async throws {
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: BoundBrickService(brick: service, bound: bound))
        ]
        if let healWorker { services.append(.init(service: HealService(worker: healWorker))) }
        if let managerAgent { services.append(.init(service: SpecFollowService(agent: managerAgent))) }
        if let optionsFollower { services.append(.init(service: optionsFollower)) }
        let group = ServiceGroup(
            configuration: .init(
                services: services,
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        managerAgent?.shutdown()
    }

    /// The descriptor hand-off of short-circuit local reads, beside the brick's Unix socket (a brick without one
    /// has none: its clients are not on its host). Kept to root, as the Unix socket is, when TLS is on. A
    /// hand-off that cannot listen leaves local clients reading over their connection.
    private static func localReadHandoff(
        besides socket: String, security: TransportSecurity, logger: Logger
    ) -> (grants: LocalReadGrants, server: DescriptorHandoffServer)? {
        let grants = LocalReadGrants()
        do {
            let server = try DescriptorHandoffServer(
                path: DescriptorHandoff.socketPath(besides: socket), mode: security.context == nil ? 0o666 : 0o600,
                logger: logger, claim: { grants.claim($0) })
            return (grants, server)
        } catch {
            logger.warning("no short-circuit local reads: \(error)")
            return nil
        }
    }

    /// Publishes the member's standing where clients on this host check it around their short-circuit reads
    /// (``MemberStateWord``). Without it the member still grants, but clients read nothing locally: they map the
    /// word before they ask.
    private static func publishMemberState(
        _ member: ReplicaMemberLayer, socket: String, security: TransportSecurity, logger: Logger
    ) {
        do {
            let publisher = try MemberStatePublisher(
                path: MemberStateWord.path(besides: socket), mode: security.context == nil ? 0o644 : 0o600)
            member.publishState { epoch, inSync in publisher.publish(epoch: epoch, inSync: inSync) }
        } catch {
            logger.warning("no short-circuit local reads of this member: \(error)")
        }
    }

    /// `endpoints` with each Unix-domain socket's directory made; a socket whose directory cannot be made is left
    /// out, since the TCP endpoint serves its clients too.
    private static func listenable(_ endpoints: [Endpoint], logger: Logger) -> [Endpoint] {
        endpoints.filter { endpoint in
            guard case .unixSocket(let path) = endpoint else { return true }
            let directory = String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)])
            if !directory.isEmpty, mkdir(directory, 0o755) != 0, errno != EEXIST {
                logger.warning("cannot create \(directory) for the brick's local socket; serving TCP only")
                return false
            }
            return true
        }
    }
}

/// Runs an already bound brick as a service (binding first lets `--port 0` report its port before serving).
private struct BoundBrickService: Service {
    let brick: BrickService
    let bound: BoundBrick

    func run() async throws {
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
