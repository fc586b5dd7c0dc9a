/// What a request carries for replicated volumes: the replica set's epoch its sender believes in, and whether it
/// comes from a client or from a member of the set. Bricks of replicated volumes refuse a request whose epoch is
/// not theirs, which is what stops a deposed primary from acknowledging anything.
public struct ReplicationStamp: Sendable, Hashable {
    /// The set's epoch as the sender knows it; 0 for volumes that are not replicated.
    public var epoch: UInt64
    public var role: Role

    public init(epoch: UInt64, role: Role) {
        self.epoch = epoch
        self.role = role
    }

    /// Requests to bricks that are not replicated.
    public static let none = ReplicationStamp(epoch: 0, role: .client)

    public var isReplicated: Bool { epoch != 0 }

    public enum Role: UInt8, Sendable, Hashable {
        /// From an application's client: the receiving member orders it (as primary) or serves it (a read).
        case client = 0
        /// From the primary: apply as it is, in the order the primary chose.
        case forwarded = 1
        /// From a heal: copy what a member missed.
        case heal = 2
    }
}
