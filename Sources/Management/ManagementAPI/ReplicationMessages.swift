import MortarCore
import MortarMembership

/// `POST /v1/volumes/NAME/membership`: what a member saw (a member that failed a change, a member caught up).
/// The answer is the set's view afterwards.
public struct MembershipEventRequest: Codable, Sendable, Hashable {
    public var setIndex: Int
    public var event: MembershipEvent

    public init(setIndex: Int, event: MembershipEvent) {
        self.setIndex = setIndex
        self.event = event
    }
}

/// One brick's part of `GET /v1/volumes/NAME/heal`: what it has recorded for each member that is not in sync,
/// as of the manager's last heartbeat.
public struct BrickHealInfo: Codable, Sendable, Hashable {
    public var brick: String
    public var setIndex: Int
    public var member: Int
    /// False when the last heartbeat got no answer (the figures are then the last known).
    public var reachable: Bool
    /// True while the manager has not yet had the member's first answer and it has not been silent long enough to
    /// count as gone (right after `volume start`, or after the manager restarted): no report yet, which is not
    /// "not answering". Absent in older answers: false.
    public var awaitingFirstReport: Bool
    public var state: MemberState
    /// Per member of the set that this brick records changes for.
    public var pending: [MemberStatus.Pending]
    /// Bytes this brick has copied to healing members since it started.
    public var bytesHealed: UInt64

    public init(
        brick: String, setIndex: Int, member: Int, reachable: Bool, awaitingFirstReport: Bool = false,
        state: MemberState, pending: [MemberStatus.Pending], bytesHealed: UInt64
    ) {
        self.brick = brick
        self.setIndex = setIndex
        self.member = member
        self.reachable = reachable
        self.awaitingFirstReport = awaitingFirstReport
        self.state = state
        self.pending = pending
        self.bytesHealed = bytesHealed
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        brick = try container.decode(String.self, forKey: .brick)
        setIndex = try container.decode(Int.self, forKey: .setIndex, within: 0...Limits.bricksPerVolumeMax - 1)
        member = try container.decode(Int.self, forKey: .member, within: 0...Limits.replicaCountMax - 1)
        reachable = try container.decode(Bool.self, forKey: .reachable)
        awaitingFirstReport = try container.decodeIfPresent(Bool.self, forKey: .awaitingFirstReport) ?? false
        state = try container.decode(MemberState.self, forKey: .state)
        pending = try container.decode([MemberStatus.Pending].self, forKey: .pending)
        bytesHealed = try container.decode(UInt64.self, forKey: .bytesHealed)
    }
}
