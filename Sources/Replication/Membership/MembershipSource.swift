import MortarCore

/// Where a client learns a replica set's membership: the manager, through the client library.
public protocol MembershipSource: Sendable {
    /// The newest view of set `setIndex` the client knows. Throws (EIO) for a set it has no valid view of: the
    /// request that needed it fails, the process goes on.
    func view(ofSet setIndex: Int) throws(FileSystemError) -> ReplicaSetView
    /// Asks for a view of set `setIndex` newer than `epoch`, waiting at most `milliseconds`; returns the newest
    /// view known then (the same epoch if nothing changed in time).
    func refresh(set setIndex: Int, newerThan epoch: UInt64, waitingAtMost milliseconds: Int64) async throws(
        FileSystemError
    ) -> ReplicaSetView
}
