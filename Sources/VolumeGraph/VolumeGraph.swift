import Logging
import MortarCore
import MortarDistribute
import MortarMembership
import MortarProtocolClient
import MortarReplicate
import MortarSecurity
import MortarTransport
import MortarVolumeSpec
import NIOCore
import Synchronization

/// A volume's client stack built from its spec: the root to send operations to, and the protocol clients at the
/// leaves so the stack can be shut down.
///
/// The root is always a distribute layer, over one child for a volume of one brick or one replica set, so that
/// the stack can grow with the volume (`add-brick`): ``follow(_:)`` appends the new children a newer spec names.
public struct VolumeGraph: Sendable {
    public let root: any FileOperations
    let distribute: Distribute
    /// The leaves and what they were built from, growing with the volume.
    private let shape: GraphShape

    /// Every brick's protocol client, in brick order.
    public var protocolClients: [ProtocolClient] {
        shape.withLock { $0.clients }
    }

    /// Builds the layers the spec names, bottom-up. Each layer type appears once in the switch below; a new layer
    /// type is a new `LayerSpec` case and the compiler points here. A spec with replica sets needs `membership`,
    /// where the replicate layers learn each set's view.
    public static func build(
        _ spec: VolumeSpec, clientName: String, security: TransportSecurity, eventLoopGroup: any EventLoopGroup,
        logger: Logger, membership: (any MembershipSource)? = nil
    ) throws -> VolumeGraph {
        var builder = Builder(
            clientName: clientName, security: security, eventLoopGroup: eventLoopGroup, logger: logger,
            membership: membership, readsLocally: spec.client.localReads)
        let (options, childSpecs) = spec.graph.distributed
        let children = try childSpecs.map { try builder.build($0, replicated: false) }
        let distribute = try Distribute(children: children, options: options, logger: logger)
        let shape = GraphShape(
            GraphShape.State(
                builder: builder, clients: builder.clients, bricks: spec.graph.bricks, childSpecs: childSpecs))
        builder.clients = []
        return VolumeGraph(root: distribute, distribute: distribute, shape: shape)
    }

    /// Has `refresh` asked for whenever the stack may be behind the volume (see ``Distribute/whenStale(_:)``): the
    /// owner that can fetch the volume's spec passes it to ``follow(_:)``, at most as often as it sees fit.
    public func whenStale(_ refresh: @escaping @Sendable () async -> Void) {
        distribute.whenStale(refresh)
    }

    struct Builder: Sendable {
        let clientName: String
        let security: TransportSecurity
        let eventLoopGroup: any EventLoopGroup
        let logger: Logger
        let membership: (any MembershipSource)?
        let readsLocally: Bool
        var clients: [ProtocolClient] = []

        init(
            clientName: String, security: TransportSecurity, eventLoopGroup: any EventLoopGroup, logger: Logger,
            membership: (any MembershipSource)?, readsLocally: Bool
        ) {
            self.readsLocally = readsLocally
            self.clientName = clientName
            self.security = security
            self.eventLoopGroup = eventLoopGroup
            self.logger = logger
            self.membership = membership
        }

        mutating func build(_ layer: LayerSpec, replicated: Bool) throws -> any FileOperations {
            switch layer {
            case .distribute(let options, let children):
                guard !children.isEmpty, children.count <= Limits.bricksPerVolumeMax else {
                    throw FileSystemError.invalidArgument("distribute layer with \(children.count) children")
                }
                let built = try children.map { try build($0, replicated: replicated) }
                return try Distribute(children: built, options: options, logger: logger)
            case .replicate(let options, let children):
                guard let membership else {
                    throw FileSystemError.invalidArgument("a replicated volume's graph needs its membership")
                }
                guard (1...Limits.replicaCountMax).contains(children.count) else {
                    throw FileSystemError.invalidArgument("replicate layer with \(children.count) members")
                }
                let built = try children.map { try build($0, replicated: true) }
                var setLogger = logger
                setLogger[metadataKey: "replica.set"] = "\(options.setIndex)"
                return Replicate(children: built, setIndex: options.setIndex, membership: membership, logger: setLogger)
            case .protocolClient(let options):
                try VolumeGraph.check(options)
                let client = VolumeGraph.protocolClient(
                    options, replicaMember: replicated, clientName: clientName, security: security,
                    eventLoopGroup: eventLoopGroup, logger: logger, readsLocally: readsLocally)
                clients.append(client)
                return client
            }
        }
    }

    /// The client of one brick. A member of a replica set waits for nothing when its brick goes away (the
    /// replicate layer fails over to another member), and answers within `Limits.replicaRequestTimeoutMilliseconds`.
    public static func protocolClient(
        _ options: ProtocolClientOptions, replicaMember: Bool, clientName: String, security: TransportSecurity,
        eventLoopGroup: any EventLoopGroup, logger: Logger, requestTimeoutMilliseconds: Int64? = nil,
        readsLocally: Bool = true
    ) -> ProtocolClient {
        let endpoint = LocalBrick.endpoint(for: options)
        var brickLogger = logger
        brickLogger[metadataKey: "brick"] = "\(options.host):\(options.brickPath)"
        let defaultTimeout = replicaMember ? Limits.replicaRequestTimeoutMilliseconds : Limits.requestTimeoutMilliseconds
        let timeout = requestTimeoutMilliseconds ?? options.requestTimeoutMilliseconds ?? defaultTimeout
        return ProtocolClient(
            endpoint: endpoint, clientName: clientName, security: security, eventLoopGroup: eventLoopGroup,
            logger: brickLogger,
            requestTimeout: .milliseconds(timeout),
            reconnectWindowMilliseconds: replicaMember ? 0 : Limits.reconnectWindowMilliseconds,
            readsLocally: readsLocally)
    }

    /// Checks a brick's options from a spec (which comes from the manager) before a client is made for it: the
    /// port becomes a socket address and the timeout nanoseconds, so out-of-range values must fail here.
    public static func check(_ options: ProtocolClientOptions) throws(FileSystemError) {
        guard (0...Limits.portNumberMax).contains(options.port),
            (0..<Limits.bricksPerVolumeMax).contains(options.brickIndex)
        else {
            throw FileSystemError.invalidArgument(
                "brick \(options.brickIndex) at \(options.host):\(options.port) is out of range in the volume's spec")
        }
        if let timeout = options.requestTimeoutMilliseconds, !(1...Limits.requestTimeoutMillisecondsMax).contains(timeout) {
            throw FileSystemError.invalidArgument(
                "request timeout \(timeout) ms of brick \(options.brickIndex) is outside 1...\(Limits.requestTimeoutMillisecondsMax)")
        }
    }

    /// How a client on this host reaches the brick `options` names (its Unix socket when it is local).
    public static func endpoint(for options: ProtocolClientOptions) -> Endpoint {
        LocalBrick.endpoint(for: options)
    }

    /// Follows a newer spec of the same volume: protocol clients whose brick moved (replace-brick: same position,
    /// new place) are pointed at it, and children the spec adds (add-brick) are built and appended to the root,
    /// whose newest layout generation then places new names over them. Leaves are in brick order in both specs; a
    /// client whose brick is where it was is left alone (its connection and the requests on it carry on). A spec
    /// that does not extend this one (fewer children, a child of another shape, a brick out of range, a layout
    /// history that is not this one's continued) is not followed: the stack keeps what it has, and says why.
    /// Returns whether the stack grew.
    @discardableResult
    public func follow(_ newer: VolumeSpec) -> Bool {
        let (options, childSpecs) = newer.graph.distributed
        let bricks = newer.graph.bricks
        do {
            for brick in bricks { try VolumeGraph.check(brick) }
            return try shape.withLock { (state) throws -> Bool in
                guard childSpecs.count >= state.childSpecs.count,
                    zip(state.childSpecs, childSpecs).allSatisfy({ $0.sameShape(as: $1) })
                else {
                    throw FileSystemError.invalidArgument(
                        "the spec has \(childSpecs.count) children that do not extend the \(state.childSpecs.count) known")
                }
                var moved: [Int] = []
                var grew = false
                for index in state.bricks.indices where state.bricks[index] != bricks[index] { moved.append(index) }
                if childSpecs.count > state.childSpecs.count {
                    var builder = state.builder
                    do {
                        let added = try childSpecs[state.childSpecs.count...].map { try builder.build($0, replicated: false) }
                        let history = options.layout ?? LayoutHistory(initialChildCount: childSpecs.count)
                        try distribute.grow(adding: added, history: history)
                    } catch {
                        // The clients built for children the stack did not take would otherwise stay open.
                        for client in builder.clients { client.shutdown() }
                        throw error
                    }
                    state.clients += builder.clients
                    state.childSpecs = childSpecs
                    grew = true
                }
                for index in moved { state.clients[index].retarget(to: LocalBrick.endpoint(for: bricks[index])) }
                state.bricks = bricks
                return grew
            }
        } catch {
            shape.logger.warning("not following the volume's newer spec (catalog version \(newer.catalogVersion)): \(error)")
            return false
        }
    }

    /// Crawls the volume from `progress` and moves every file to the brick (or replica set) the newest layout
    /// places it on (``Rebalance``); `report` stores progress as it goes. Run as root: a rebalance moves every
    /// file, whoever owns it (bricks do not squash a cluster host's root).
    public func rebalance(
        from progress: RebalanceProgress, throttle: RebalanceThrottle, logger: Logger,
        report: @escaping @Sendable (RebalanceProgress) async throws -> Void
    ) async throws -> RebalanceProgress {
        let context = OperationContext(userID: 0, groupID: 0, logger: logger)
        return try await Rebalance(
            distribute: distribute, from: progress, throttle: throttle, context: context, report: report
        ).run()
    }

    /// Closes every brick connection, and stops asking for newer specs.
    public func shutdown() {
        distribute.whenStale(nil)
        for client in protocolClients { client.shutdown() }
    }
}

/// What a graph was built from and what it holds, updated as the volume's spec changes.
final class GraphShape: Sendable {
    struct State: Sendable {
        /// Builds the children a newer spec adds, as the first ones were built.
        var builder: VolumeGraph.Builder
        var clients: [ProtocolClient]
        var bricks: [ProtocolClientOptions]
        var childSpecs: [LayerSpec]
    }

    private let state: Mutex<State>
    let logger: Logger

    init(_ state: State) {
        logger = state.builder.logger
        self.state = Mutex(state)
    }

    func withLock<Result, Failure: Error>(_ body: (inout State) throws(Failure) -> Result) throws(Failure) -> Result {
        try state.withLock { (state) throws(Failure) in try body(&state) }
    }
}

extension LayerSpec {
    /// The root's distribute options and children: a graph whose root is not a distribute layer is its one child.
    var distributed: (DistributeOptions, [LayerSpec]) {
        if case .distribute(let options, let children) = self { return (options, children) }
        return (DistributeOptions(), [self])
    }

    /// Whether `other` is the same child in a newer spec: the same kind of layer over the same number of bricks
    /// (which may have moved).
    func sameShape(as other: LayerSpec) -> Bool {
        switch (self, other) {
        case (.replicate(let mine, let myChildren), .replicate(let theirs, let theirChildren)):
            mine.setIndex == theirs.setIndex && myChildren.count == theirChildren.count
        case (.protocolClient(let mine), .protocolClient(let theirs)):
            mine.brickIndex == theirs.brickIndex
        case (.distribute, .distribute):
            self.bricks.count == other.bricks.count
        default:
            false
        }
    }
}
