import Logging
import MortarCore
import MortarManagementAPI
import MortarMembership
import MortarProtocolClient
import MortarReplicaMember
import MortarSecurity
import MortarTransport
import MortarVolumeGraph
import MortarVolumeSpec
import NIOCore
import NIOPosix
import Synchronization

/// A brick's place in a replicated volume, read from the volume's spec: which set, which member, and how to
/// reach the other members.
struct ReplicaPlacement {
    var setIndex: Int
    var member: Int
    var members: [ProtocolClientOptions]

    /// Finds the replica set that holds brick `brickIndex`; nil when the volume is not replicated.
    static func find(brickIndex: Int, in layer: LayerSpec) -> ReplicaPlacement? {
        switch layer {
        case .distribute(_, let children):
            return children.lazy.compactMap { find(brickIndex: brickIndex, in: $0) }.first
        case .replicate(let options, let children):
            let members = children.flatMap(\.bricks)
            guard let member = members.firstIndex(where: { $0.brickIndex == brickIndex }) else { return nil }
            return ReplicaPlacement(setIndex: options.setIndex, member: member, members: members)
        case .protocolClient:
            return nil
        }
    }
}

/// The brick process's side of a replica set: views from the manager, reports to it, and clients of the other
/// members' bricks (which wait for nothing when a member is gone: its failure is the manager's to handle).
final class ManagerAgent: ReplicaSetAgent {
    let member: Int
    let setIndex: Int
    let membership: ManagedMembership
    private let replicaSet: ManagedMembership.CheckedSet
    private let peers: [Int: ProtocolClient]

    /// Checks once that the manager's views and the spec agree on this brick's set — a view of it exists, with
    /// one member per brick the spec lists — so `view` can never be asked for a set or a member it lacks (every
    /// later view is checked against the same spec when it is installed).
    init(
        placement: ReplicaPlacement, membership: ManagedMembership, security: TransportSecurity, logger: Logger
    ) throws(FileSystemError) {
        for options in placement.members { try VolumeGraph.check(options) }
        replicaSet = try membership.checkedSet(placement.setIndex)
        let current = replicaSet.view
        guard current.members.count == placement.members.count else {
            throw FileSystemError.protocolError(
                "replica set \(placement.setIndex) has \(current.members.count) members in the manager's view and "
                    + "\(placement.members.count) bricks in the spec")
        }
        member = placement.member
        setIndex = placement.setIndex
        self.membership = membership
        var peers: [Int: ProtocolClient] = [:]
        for (index, options) in placement.members.enumerated() where index != placement.member {
            peers[index] = VolumeGraph.protocolClient(
                options, replicaMember: true, clientName: "mortar-brick/member-\(placement.member)",
                security: security, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: logger,
                requestTimeoutMilliseconds: Limits.replicaForwardTimeoutMilliseconds, readsLocally: false)
        }
        self.peers = peers
        // replace-brick moves a member: follow it (only it — the other connections and their requests go on).
        let known = Mutex(placement.members)
        membership.watchSpec { [peers, placement] spec in
            let ownIndex = placement.members[placement.member].brickIndex
            // A spec whose members do not fit is not followed: the connections keep their bricks.
            guard let newer = ReplicaPlacement.find(brickIndex: ownIndex, in: spec.graph),
                newer.members.allSatisfy({ (try? VolumeGraph.check($0)) != nil })
            else { return }
            let moved = known.withLock { members -> [Int] in
                defer { members = newer.members }
                return newer.members.indices.filter { !members.indices.contains($0) || members[$0] != newer.members[$0] }
            }
            for index in moved { peers[index]?.retarget(to: VolumeGraph.endpoint(for: newer.members[index])) }
        }
    }

    var view: ReplicaSetView { replicaSet.view }

    /// Follows the spec after pushed views (see ``ManagedMembership/followSpec()``) until cancelled.
    func followSpec() async {
        await membership.followSpec()
    }

    func view(atLeast epoch: UInt64, waitingAtMost milliseconds: Int64) async -> ReplicaSetView {
        let current = view
        guard current.epoch < epoch else { return current }
        do {
            return try await membership.refresh(set: setIndex, newerThan: epoch - 1, waitingAtMost: milliseconds)
        } catch {
            // Only a set the membership does not have throws, and `init` checked this one; the newest view known
            // is the answer either way.
            return view
        }
    }

    func report(_ event: MembershipEvent) async throws -> ReplicaSetView {
        try await membership.report(setIndex: setIndex, event)
    }

    func install(_ view: ReplicaSetView) throws(FileSystemError) {
        try membership.install(view)
    }

    func observeViews(_ handler: @escaping @Sendable (ReplicaSetView) -> Void) {
        membership.observeViews(ofSet: setIndex, handler)
    }

    func peer(_ member: Int) throws(FileSystemError) -> any FileOperations {
        guard let peer = peers[member] else {
            throw FileSystemError.inputOutput(
                "member \(member) of replica set \(setIndex) is this brick (member \(self.member)) or not in the set")
        }
        return peer
    }

    func shutdown() {
        for peer in peers.values { peer.shutdown() }
    }
}

/// What a brick placed by the manager (`mortar brick --manager`) sets up before serving: for a member of a
/// replica set, the member layer over the storage, its heal journal (reloaded from its markers) and its heal worker.
struct BrickReplication {
    let layer: ReplicaMemberLayer
    let worker: HealWorker
    let agent: ManagerAgent

    /// Asks the manager (retrying while it is unreachable or the volume is not started yet) where this brick
    /// stands; nil for a brick of a volume that is not replicated. `managers` are asked in turn: the brick's own
    /// daemon, then others, which every later view request and report also falls back to.
    static func prepare(
        managers: [ManagementClient.Address], volume: String, brickIndex: Int, export: String,
        storage: any FileOperations, security: TransportSecurity, logger: Logger
    ) async throws -> BrickReplication? {
        let client = ManagementClient(servers: managers, security: security)
        var delay = Duration.milliseconds(100)
        while true {
            let found: (placement: ReplicaPlacement, agent: ManagerAgent)?
            do {
                let spec = try await client.volumeSpec(name: volume)
                if let placement = ReplicaPlacement.find(brickIndex: brickIndex, in: spec.graph) {
                    let membership = try await ManagedMembership.fetch(spec: spec, client: client)
                    found = (
                        placement,
                        try ManagerAgent(
                            placement: placement, membership: membership, security: security, logger: logger)
                    )
                } else {
                    found = nil
                }
            } catch {
                guard !Task.isCancelled else { throw error }
                logger.info("waiting for the manager at \(managers.map(\.description).joined(separator: ", ")): \(error)")
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(1))
                continue
            }
            guard case let (placement, agent)? = found else { return nil }
            // Outside the retry: a heal journal that cannot be loaded is this brick's own failure, not the
            // manager's, and must stop the brick (see HealJournal.load) rather than be retried as a wait.
            let layer = try memberLayer(agent: agent, export: export, storage: storage, logger: logger)
            logger.info("member \(placement.member) of replica set \(placement.setIndex): \(agent.view)")
            return BrickReplication(layer: layer, worker: HealWorker(layer: layer, logger: logger), agent: agent)
        }
    }

    /// The member layer over `storage`, with the heal journal reloaded from the export's markers (what this
    /// member recorded for absent members survives a restart).
    static func memberLayer(
        agent: any ReplicaSetAgent, export: String, storage: any FileOperations, logger: Logger
    ) throws -> ReplicaMemberLayer {
        let journal = try HealJournal(directory: export + "/.mortar/heal", logger: logger)
        try journal.load()
        return ReplicaMemberLayer(next: storage, agent: agent, journal: journal, logger: logger)
    }
}
