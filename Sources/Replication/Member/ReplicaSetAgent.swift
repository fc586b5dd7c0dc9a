import MortarCore
import MortarMembership

/// What a member's layer needs from its surroundings, provided by the brick process: the set's current view
/// (kept up to date from the manager), the other members' bricks, and the way to tell the manager that a
/// member could not apply a change.
public protocol ReplicaSetAgent: Sendable {
    /// This brick's position in its replica set.
    var member: Int { get }
    /// The newest view this brick knows.
    var view: ReplicaSetView { get }
    /// Waits (at most `milliseconds`) until the brick knows a view of at least `epoch`; returns the newest view.
    func view(atLeast epoch: UInt64, waitingAtMost milliseconds: Int64) async -> ReplicaSetView
    /// Tells the manager what this member saw (a member that failed a change, a member caught up); returns the
    /// view the manager decided on.
    func report(_ event: MembershipEvent) async throws -> ReplicaSetView
    /// Takes a view the manager pushed (kept only if newer than the one known); refuses one that does not fit the
    /// set (another set's, another member count).
    func install(_ view: ReplicaSetView) throws(FileSystemError)
    /// Calls `handler` with the current view now and with every newer view as this brick learns it, before a
    /// request can run under it (what it publishes is never behind what the member acts on). Quick, no locks.
    func observeViews(_ handler: @escaping @Sendable (ReplicaSetView) -> Void)
    /// The operation table of another member's brick; EIO for this brick's own position or one outside the set.
    func peer(_ member: Int) throws(FileSystemError) -> any FileOperations
}
