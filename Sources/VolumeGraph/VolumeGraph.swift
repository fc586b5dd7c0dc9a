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
public struct VolumeGraph: Sendable {
    public let root: any FileOperations
    public let protocolClients: [ProtocolClient]
    /// The bricks the protocol clients talk to, as the spec last named them.
    private let placements: Placements

    init(root: any FileOperations, protocolClients: [ProtocolClient], bricks: [ProtocolClientOptions]) {
        self.root = root
        self.protocolClients = protocolClients
        placements = Placements(bricks)
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
        let root = try builder.build(spec.graph, replicated: false)
        return VolumeGraph(root: root, protocolClients: builder.clients, bricks: spec.graph.bricks)
    }

    private struct Builder {
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
                return Distribute(children: built, options: options, logger: logger)
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

    /// Points the protocol clients at the bricks of a newer spec of the same volume (replace-brick moves a brick:
    /// same position, new place). Leaves are in brick order in both specs; a client whose brick is where it was is
    /// left alone (its connection and the requests on it carry on).
    public func follow(_ newer: VolumeSpec) {
        let bricks = newer.graph.bricks
        // A spec that does not fit (another brick count, a brick out of range) is not followed: the clients keep
        // talking to the bricks they know.
        guard bricks.count == protocolClients.count,
            bricks.allSatisfy({ (try? VolumeGraph.check($0)) != nil })
        else { return }
        let moved = placements.withLock { known -> [Int] in
            let moved = bricks.indices.filter { known[$0] != bricks[$0] }
            known = bricks
            return moved
        }
        for index in moved { protocolClients[index].retarget(to: LocalBrick.endpoint(for: bricks[index])) }
    }

    /// Closes every brick connection.
    public func shutdown() {
        for client in protocolClients { client.shutdown() }
    }
}

/// The bricks a graph's clients talk to, updated as the volume's spec changes.
final class Placements: Sendable {
    private let bricks: Mutex<[ProtocolClientOptions]>

    init(_ bricks: [ProtocolClientOptions]) {
        self.bricks = Mutex(bricks)
    }

    func withLock<Result>(_ body: (inout [ProtocolClientOptions]) -> Result) -> Result {
        bricks.withLock { body(&$0) }
    }
}
