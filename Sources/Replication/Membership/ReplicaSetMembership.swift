import MortarCore

/// What the manager learns about a replica set's members. Each is applied by ``ReplicaSetMembership/apply(_:)``.
public enum MembershipEvent: Sendable, Hashable, Codable {
    /// The failure detector stopped hearing from the member (heartbeats missed, process gone).
    case unreachable(member: Int)
    /// A primary could not apply a change on `member` in `epoch` and holds the change unacknowledged until the
    /// member is out of the set.
    case forwardFailed(member: Int, epoch: UInt64)
    /// The member answers again.
    case reachable(member: Int)
    /// The heal source reports that `member` holds everything it missed, as of `epoch`.
    case caughtUp(member: Int, source: Int, epoch: UInt64)
    /// A new, empty brick takes the member's position (replace-brick): it needs everything.
    case replaced(member: Int)
}

/// One replica set's membership as a pure state machine, kept by the manager in its durable catalog. Every rule
/// that protects acknowledged data lives here, with no I/O, so seeded random sequences can check them:
///
/// - the epoch only increases, by one per change of a member's state;
/// - the in-sync set is never emptied: its last member stays in it while unreachable (it alone is known to hold
///   every acknowledged change), so the set is unavailable rather than wrong;
/// - a member becomes in sync only when the heal source it was assigned reports, in the current epoch, that it
///   is caught up;
/// - the heal source is a *witness*: a member that has been in sync without a break since the healing member left,
///   so its record of what the member missed (from the epoch in which the member was last in sync) is complete.
///   With no witness left, or a miss older than that epoch, the member needs a full resync.
public struct ReplicaSetMembership: Codable, Sendable, Hashable {
    public private(set) var view: ReplicaSetView
    /// For each member not in sync: the in-sync members whose records of what it missed are complete.
    public private(set) var witnesses: [Set<Int>]
    /// For each member: whether it must be compared in full (a new brick, or every complete record was lost).
    public private(set) var needsFullResync: [Bool]
    /// For each member: the epoch in which it last became in sync (0: from the start).
    public private(set) var joinedEpoch: [UInt64]

    public init(setIndex: Int, memberCount: Int, minInSync: Int) {
        view = ReplicaSetView(setIndex: setIndex, memberCount: memberCount, minInSync: minInSync)
        witnesses = Array(repeating: [], count: memberCount)
        needsFullResync = Array(repeating: false, count: memberCount)
        joinedEpoch = Array(repeating: 0, count: memberCount)
    }

    /// Reads a membership from the catalog file, checked: the rules below index every per-member array by the
    /// view's member positions, so a damaged file is refused when read instead of trapping the manager later.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        view = try container.decode(ReplicaSetView.self, forKey: .view)
        witnesses = try container.decode([Set<Int>].self, forKey: .witnesses)
        needsFullResync = try container.decode([Bool].self, forKey: .needsFullResync)
        joinedEpoch = try container.decode([UInt64].self, forKey: .joinedEpoch)
        let count = view.members.count
        guard witnesses.count == count, needsFullResync.count == count, joinedEpoch.count == count,
            witnesses.allSatisfy({ $0.allSatisfy(view.members.indices.contains) })
        else {
            throw DecodingError.dataCorrupted(
                DecodingError.Context(
                    codingPath: decoder.codingPath,
                    debugDescription: "membership of replica set \(view.setIndex) does not match its \(count) members"))
        }
    }

    /// The member that heals `member` (reads its record, copies what it missed): a witness, or for a full resync
    /// the first in-sync member. Nil unless `member` is healing.
    public func healSource(for member: Int) -> Int? {
        guard view.members.indices.contains(member), view.members[member] == .healing else { return nil }
        if needsFullResync[member] { return view.inSyncMembers.first }
        return witnesses[member].sorted().first
    }

    /// Applies `event`; returns whether the view changed and, if not, why. Refuses (throws) only what a user
    /// asked for and must not do (replacing the last in-sync member).
    @discardableResult
    public mutating func apply(_ event: MembershipEvent) throws(FileSystemError) -> MembershipOutcome {
        let outcome = try decide(event)
        view.healSources = view.members.indices.map { healSource(for: $0) }
        view.fullResync = needsFullResync
        return outcome
    }

    private mutating func decide(_ event: MembershipEvent) throws(FileSystemError) -> MembershipOutcome {
        switch event {
        case .unreachable(let member):
            return leave(member, reason: "unreachable")
        case .forwardFailed(let member, let epoch):
            return forwardFailed(member, epoch: epoch)
        case .reachable(let member):
            return returned(member)
        case .caughtUp(let member, let source, let epoch):
            return caughtUp(member, source: source, epoch: epoch)
        case .replaced(let member):
            return try replaced(member)
        }
    }

    private mutating func leave(_ member: Int, reason: String, fullResync: Bool = false) -> MembershipOutcome {
        guard view.members.indices.contains(member) else { return .unchanged("member \(member) does not exist") }
        switch view.members[member] {
        case .outOfSync:
            return .unchanged("member \(member) is already out of sync")
        case .healing:
            view.members[member] = .outOfSync
            if fullResync { needsFullResync[member] = true }
        case .inSync:
            guard view.inSyncMembers.count > 1 else {
                return .unchanged("member \(member) is the last in-sync member; it stays so (it alone holds every "
                    + "acknowledged change) and the set waits for it")
            }
            view.members[member] = .outOfSync
            witnesses[member] = Set(view.inSyncMembers)
            for other in view.members.indices where other != member && view.members[other] != .inSync {
                witnesses[other].remove(member)
                if witnesses[other].isEmpty { needsFullResync[other] = true }
            }
            if fullResync { needsFullResync[member] = true }
        }
        view.epoch += 1
        return .changed(reason)
    }

    private mutating func forwardFailed(_ member: Int, epoch: UInt64) -> MembershipOutcome {
        guard epoch <= view.epoch else { return .unchanged("report from epoch \(epoch), ahead of \(view.epoch)") }
        guard view.members.indices.contains(member) else { return .unchanged("member \(member) does not exist") }
        // A witness records what the member misses from the epoch in which it was last in sync (this one). A change
        // of an earlier epoch that the member missed — reported late, after another failure of the same write, or
        // after the member rejoined — is in no witness's record, so only a full comparison can be trusted.
        let missedBeforeRecords = view.members[member] == .inSync && epoch < view.epoch
        return leave(member, reason: "a forward failed in epoch \(epoch)", fullResync: missedBeforeRecords)
    }

    private mutating func returned(_ member: Int) -> MembershipOutcome {
        guard view.members.indices.contains(member) else { return .unchanged("member \(member) does not exist") }
        guard view.members[member] == .outOfSync else {
            return .unchanged("member \(member) is \(view.members[member].rawValue)")
        }
        view.members[member] = .healing
        view.epoch += 1
        return .changed("member \(member) is back; healing starts")
    }

    private mutating func caughtUp(_ member: Int, source: Int, epoch: UInt64) -> MembershipOutcome {
        guard epoch == view.epoch else {
            return .unchanged("caught-up report from epoch \(epoch); the set is in epoch \(view.epoch)")
        }
        guard let expected = healSource(for: member) else {
            return .unchanged("member \(member) is not healing")
        }
        guard source == expected else {
            return .unchanged("member \(source) is not the heal source of member \(member) (\(expected) is)")
        }
        view.members[member] = .inSync
        view.epoch += 1
        witnesses[member] = []
        needsFullResync[member] = false
        joinedEpoch[member] = view.epoch
        return .changed("member \(member) caught up and rejoined")
    }

    private mutating func replaced(_ member: Int) throws(FileSystemError) -> MembershipOutcome {
        guard view.members.indices.contains(member) else {
            throw FileSystemError.invalidArgument("member \(member) does not exist")
        }
        if view.members[member] == .inSync && view.inSyncMembers.count == 1 {
            throw FileSystemError(
                .busy, "member \(member) is the only in-sync member of set \(view.setIndex); "
                    + "replacing it would lose data")
        }
        if view.members[member] == .outOfSync {
            needsFullResync[member] = true
            view.epoch += 1
            return .changed("member \(member) replaced")
        }
        let outcome = leave(member, reason: "member \(member) replaced", fullResync: true)
        needsFullResync[member] = true
        return outcome
    }
}

/// Whether an event changed the view, with the reason either way (for the log and `volume status`).
public enum MembershipOutcome: Sendable, Hashable {
    case changed(String)
    case unchanged(String)

    public var changed: Bool {
        if case .changed = self { return true }
        return false
    }
}
