import MortarCore
import MortarMembership
import MortarVolumeSpec

/// The cluster's management state as a pure value: which peers belong to the cluster and which volumes exist,
/// with their bricks. The daemon that owns it (the manager) feeds it ``CatalogCommand``s and carries out the
/// ``CatalogDirective``s it returns; the catalog itself performs no I/O, so every rule is testable in memory.
public struct Catalog: Codable, Sendable, Hashable {
    /// Bumped by every command that changes the catalog, never by one that fails or changes nothing; a spec
    /// generated from a newer version supersedes an older one.
    public private(set) var version: UInt64
    /// The host name other hosts and clients use to reach the manager. Bricks on it, on `127.0.0.1` and on
    /// `localhost` are bricks of the manager's own host.
    public private(set) var managerHost: String
    /// The other hosts of the cluster, in probe order.
    public private(set) var peers: [Peer]
    /// Every volume, in creation order.
    public private(set) var volumes: [Volume]
    /// The first port handed to a brick on each host; ports are allocated lowest-free-first from here.
    public private(set) var brickPortMin: Int
    /// Certificates the cluster refuses: serial number (lower-case hex) → the name it was issued to.
    public private(set) var revokedCertificates: [String: String]

    /// The usual first brick port, as GlusterFS uses.
    public static let defaultBrickPortMin = 49152

    /// An empty catalog owned by the manager reachable as `managerHost`.
    public init(managerHost: String, brickPortMin: Int = Catalog.defaultBrickPortMin) {
        self.version = 0
        self.managerHost = managerHost
        self.brickPortMin = brickPortMin
        self.peers = []
        self.volumes = []
        self.revokedCertificates = [:]
    }

    private enum CodingKeys: String, CodingKey {
        case version, managerHost, peers, volumes, brickPortMin, revokedCertificates
    }

    /// Reads a catalog; one written before certificates could be revoked has none revoked.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        version = try container.decode(UInt64.self, forKey: .version)
        managerHost = try container.decode(String.self, forKey: .managerHost)
        peers = try container.decode([Peer].self, forKey: .peers)
        volumes = try container.decode([Volume].self, forKey: .volumes)
        brickPortMin = try container.decode(Int.self, forKey: .brickPortMin)
        revokedCertificates = try container.decodeIfPresent([String: String].self, forKey: .revokedCertificates) ?? [:]
    }

    /// The volume called `name`, if there is one.
    public func volume(named name: String) -> Volume? {
        volumes.first { $0.name == name }
    }

    /// The peer reachable as `host`, if there is one.
    public func peer(host: String) -> Peer? {
        peers.first { $0.host == host }
    }

    /// Whether `host` names the manager's own host.
    public func isLocal(_ host: String) -> Bool {
        host == managerHost || host == "127.0.0.1" || host == "localhost"
    }

    /// The key under which bricks of one host are compared: every spelling of the manager's host is one host, and
    /// so is every loopback address (127.0.0.0/8, ::1): a peer reached over loopback runs on the manager's machine,
    /// so its bricks share that machine's ports and directories (two "hosts" 127.0.0.1 and 127.0.0.2 given the
    /// same brick port made the second brick fail to bind it).
    func hostKey(_ host: String) -> String {
        isLocal(host) || host.hasPrefix("127.") || host == "::1" ? "" : host
    }

    /// Records the manager's host name, for a daemon restarted under another name. Not a command: it changes
    /// how hosts are spelled, not what the cluster holds, so it does not bump the version.
    public mutating func setManagerHost(_ host: String) {
        managerHost = host
    }

    mutating func bumpVersion() {
        version += 1
    }

    mutating func replaceVolumes(_ newVolumes: [Volume]) {
        volumes = newVolumes
    }

    mutating func replacePeers(_ newPeers: [Peer]) {
        peers = newPeers
    }

    mutating func addRevocations(_ certificates: [String: String]) {
        revokedCertificates.merge(certificates) { old, _ in old }
    }
}

/// Another host of the cluster, recorded when `mortar peer probe` reached its daemon.
public struct Peer: Codable, Sendable, Hashable {
    /// The peer daemon's identity, as its hello reported it.
    public var id: String
    /// Host name or address, as the user typed it when probing.
    public var host: String
    /// The peer daemon's management port.
    public var port: Int
    public var state: PeerState

    public init(id: String, host: String, port: Int, state: PeerState) {
        self.id = id
        self.host = host
        self.port = port
        self.state = state
    }
}

/// Whether the manager could reach a peer the last time it tried.
public enum PeerState: String, Codable, Sendable, Hashable {
    case connected
    case disconnected
}

/// A volume: a name, a stable identity, a lifecycle state and the bricks that store its files.
public struct Volume: Codable, Sendable, Hashable {
    public var name: String
    /// A UUID string, chosen by the shell when the volume was created (the catalog draws no randomness).
    public var id: String
    public var state: VolumeState
    /// The bricks, ordered by ``Brick/index``.
    public var bricks: [Brick]
    /// Copies of each file: 1 for a volume that is not replicated, else the members of each replica set.
    /// Consecutive bricks form a set: bricks `0..<replicaCount` are set 0, the next `replicaCount` set 1, and so on.
    public var replicaCount: Int
    /// Each replica set's membership, by set index; empty when ``replicaCount`` is 1.
    public var replicaSets: [ReplicaSetMembership]
    /// The options set with `volume set` (valid by ``VolumeOptions``); the others take their defaults.
    public var options: [String: String] = [:]
    /// How the volume's distribute children (bricks, or replica sets) came to be, once it has grown; nil until
    /// then (one generation of all of them). See ``layoutHistory``.
    public var layout: LayoutHistory?
    /// The volume's rebalance, once one was started; see ``RebalanceRecord``.
    public var rebalance: RebalanceRecord?

    public init(
        name: String, id: String, state: VolumeState, bricks: [Brick], replicaCount: Int = 1,
        replicaSets: [ReplicaSetMembership] = []
    ) {
        self.name = name
        self.id = id
        self.state = state
        self.bricks = bricks
        self.replicaCount = replicaCount
        self.replicaSets = replicaSets
    }

    /// Reads catalogs written before replication existed (no `replicaCount`, no `replicaSets`): their volumes
    /// are plain distribute volumes, so clusters keep working across the upgrade. Likewise without `options`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        id = try container.decode(String.self, forKey: .id)
        state = try container.decode(VolumeState.self, forKey: .state)
        bricks = try container.decode([Brick].self, forKey: .bricks)
        replicaCount = try container.decodeIfPresent(Int.self, forKey: .replicaCount) ?? 1
        replicaSets = try container.decodeIfPresent([ReplicaSetMembership].self, forKey: .replicaSets) ?? []
        // Catalogs written before volume options existed have none set.
        options = try container.decodeIfPresent([String: String].self, forKey: .options) ?? [:]
        // Catalogs written before volumes could grow: their volumes never did.
        layout = try container.decodeIfPresent(LayoutHistory.self, forKey: .layout)
        rebalance = try container.decodeIfPresent(RebalanceRecord.self, forKey: .rebalance)
    }

    /// The children of distribute: one per brick, or one per replica set.
    public var distributeChildCount: Int {
        bricks.count / max(replicaCount, 1)
    }

    /// The volume's layout history: the recorded one, or one generation of all its children.
    public var layoutHistory: LayoutHistory {
        layout ?? LayoutHistory(initialChildCount: distributeChildCount)
    }

    /// Whether each file is kept on several bricks.
    public var isReplicated: Bool {
        replicaCount > 1
    }

    /// The replica set a brick belongs to and its member position in that set.
    public func replicaPosition(ofBrick index: Int) -> (setIndex: Int, member: Int) {
        (index / replicaCount, index % replicaCount)
    }

    /// The bricks of one replica set, in member order.
    public func bricks(ofSet setIndex: Int) -> [Brick] {
        Array(bricks[setIndex * replicaCount..<(setIndex + 1) * replicaCount])
    }
}

/// A volume's lifecycle: created, then started and stopped any number of times, deleted only while not started.
public enum VolumeState: String, Codable, Sendable, Hashable {
    case created
    case started
    case stopped
}

/// One exported directory of a volume, on one host, served by one brick process on `port`.
public struct Brick: Codable, Sendable, Hashable {
    public var host: String
    /// An absolute, normalised path on `host`.
    public var path: String
    /// The brick process's TCP port, allocated by the catalog from ``Catalog/brickPortMin`` up, unique per host.
    public var port: Int
    /// The brick's position in the volume (0-based).
    public var index: Int

    public init(host: String, path: String, port: Int, index: Int) {
        self.host = host
        self.path = path
        self.port = port
        self.index = index
    }
}
