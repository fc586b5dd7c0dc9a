import MortarCore
import MortarMembership
import MortarVolumeSpec

/// A change requested of the catalog. ``Catalog/apply(_:)`` validates it and either changes the catalog and
/// returns what the shell must do, or throws and leaves the catalog as it was.
public enum CatalogCommand: Sendable, Hashable {
    /// Creates a volume over `bricks`, in order. `id` is the new volume's UUID string. With `replicaCount` above
    /// 1 consecutive bricks form replica sets of that many members, of which `minInSync` (nil: a majority) must
    /// be in sync for the set to accept changes. `force` accepts two bricks of one replica set on one host, and
    /// the host agents honour it by creating a missing brick directory; every other rule holds regardless.
    case createVolume(
        name: String, id: String, bricks: [BrickLocation], replicaCount: Int = 1, minInSync: Int? = nil, force: Bool)
    case startVolume(name: String)
    case stopVolume(name: String)
    case deleteVolume(name: String)
    /// Applies what the manager learned about a member of replica set `setIndex` of a replicated volume; see
    /// ``Catalog/applyMembership(volume:setIndex:event:)``.
    case membership(volume: String, setIndex: Int, event: MembershipEvent)
    /// Puts a new, empty brick in the place of `old` in a replicated volume: same index, same member position,
    /// out of sync until healed. `force` as for ``createVolume(name:id:bricks:replicaCount:minInSync:force:)``.
    case replaceBrick(volume: String, old: BrickLocation, new: BrickLocation, force: Bool)
    /// Adds bricks to a volume (`volume add-brick`), after its others: any number to a plain volume, whole replica
    /// sets (a multiple of the replica count, one member per host unless `force`) to a replicated one, in sync
    /// from the start (they are empty). The new bricks (or sets) become new children of distribute, and the
    /// volume's layout history gains a generation that places new names over them at once.
    case addBricks(volume: String, bricks: [BrickLocation], force: Bool)
    /// `rebalance VOL start`: a new rebalance, or the stopped or failed one resumed (``RebalanceRecord``).
    case startRebalance(volume: String)
    /// `rebalance VOL stop`.
    case stopRebalance(volume: String)
    /// What the runner of rebalance run `run` reports: its progress, and `.completed` or `.failed` (with why)
    /// when it ends, `.inProgress` while it goes on.
    case recordRebalance(volume: String, run: Int, progress: RebalanceProgress, state: RebalanceState, failure: String?)
    /// Sets a volume option (`volume set`); the value must pass ``VolumeOptions/validate(_:_:)``.
    case setOption(volume: String, name: String, value: String)
    /// Returns an option to its default, or every option when `name` is nil (`volume reset`).
    case resetOption(volume: String, name: String?)
    /// Records a host whose daemon answered a probe.
    case addPeer(Peer)
    /// A daemon sharing the cluster's etcd announces itself (its identity, host name and management port): added
    /// as a host of the cluster, or its entry brought up to date. Unlike ``addPeer(_:)`` it names the daemon's
    /// own host; access to etcd is what admits it.
    case registerDaemon(Peer)
    /// Forgets a peer; refused while it hosts bricks of any volume.
    case removePeer(host: String)
    /// Records whether a peer was reachable; changes nothing (and bumps nothing) when the state is the same.
    case setPeerState(host: String, state: PeerState)
    /// Records certificates as revoked (serial number in hex → the name it was issued to); every daemon and brick
    /// refuses them from then on. Revocation is for good: there is no command that takes one back.
    case revokeCertificates([String: String])
}

/// Where a brick goes, as the user named it: `HOST:/PATH`.
public struct BrickLocation: Codable, Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var path: String

    public init(host: String, path: String) {
        self.host = host
        self.path = path
    }

    /// Parses `HOST:/PATH`; the path is everything after the first colon.
    public init(parsing text: String) throws(FileSystemError) {
        guard let colon = text.firstIndex(of: ":"), colon != text.startIndex else {
            throw FileSystemError.invalidArgument("brick '\(text)' is not of the form HOST:/PATH")
        }
        let path = String(text[text.index(after: colon)...])
        guard !path.isEmpty else {
            throw FileSystemError.invalidArgument("brick '\(text)' has no path; use HOST:/PATH")
        }
        self.init(host: String(text[..<colon]), path: path)
    }

    public var description: String { "\(host):\(path)" }
}

/// What the shell must do after a command succeeded. SWIM-style: the core decides, the shell performs.
public enum CatalogDirective: Sendable, Hashable {
    /// Write the catalog to stable storage before answering the request.
    case persist
    /// Ask `host`'s agent to run these bricks (idempotent: a running brick stays as it is).
    case startBricks(host: String, [BrickAssignment])
    /// Ask `host`'s agent to stop these bricks.
    case stopBricks(host: String, [BrickAssignment])
}

/// One brick as a host agent needs it: enough to start, stop and report the brick process.
public struct BrickAssignment: Codable, Sendable, Hashable {
    public var volume: String
    public var path: String
    public var port: Int
    public var index: Int

    public init(volume: String, path: String, port: Int, index: Int) {
        self.volume = volume
        self.path = path
        self.port = port
        self.index = index
    }
}

extension Volume {
    /// What a host agent needs to run one of this volume's bricks.
    public func assignment(of brick: Brick) -> BrickAssignment {
        BrickAssignment(volume: name, path: brick.path, port: brick.port, index: brick.index)
    }
}
