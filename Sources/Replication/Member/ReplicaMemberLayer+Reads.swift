import MortarCore
import MortarMembership
import NIOCore

/// Requests that change nothing: served by the member they reach, once its epoch and state are checked, so a
/// client with an old view, or a member being healed, never answers a read. Locks live on the file's primary.
extension ReplicaMemberLayer {
    public func lookup(_ name: String, in parent: FileID, context: OperationContext) async throws -> FileAttributes {
        _ = try await admit(context)
        return try await next.lookup(name, in: parent, context: context)
    }

    public func attributes(of file: FileID, context: OperationContext) async throws -> FileAttributes {
        _ = try await admit(context)
        return try await next.attributes(of: file, context: context)
    }

    public func attributes(ofOpen file: OpenFile, context: OperationContext) async throws -> FileAttributes {
        _ = try await admit(context)
        return try await next.attributes(ofOpen: file, context: context)
    }

    public func checkAccess(_ mask: AccessMask, to file: FileID, context: OperationContext) async throws {
        _ = try await admit(context)
        try await next.checkAccess(mask, to: file, context: context)
    }

    public func read(from file: OpenFile, at offset: UInt64, count: Int, context: OperationContext) async throws
        -> ByteBuffer
    {
        _ = try await admit(context)
        return try await next.read(from: file, at: offset, count: count, context: context)
    }

    /// Granted by the file's primary, to a client, in the request's epoch while in sync (``admit(_:)``): when this
    /// member would serve the file's reads itself. A descriptor outlives those conditions, so the client reads
    /// through it only while the member's state word (published from every view this member learns, see
    /// ``publishState(_:)``) says the member is still in sync in the epoch of the read; the primary is where every
    /// change to the file is applied first, so what it has is never older than what was acknowledged.
    public func grantLocalRead(of file: OpenFile, context: OperationContext) async throws -> LocalReadGrant {
        let view = try await admit(context)
        guard context.replication.role == .client, orderingMember(view, .file(file.id)) == member else {
            throw FileSystemError(
                .wouldBlock, "member \(member) is not the primary of \(file.id) in epoch \(view.epoch): no local reads")
        }
        return try await next.grantLocalRead(of: file, context: context)
    }

    /// Has `publish` told of this member's standing (epoch, in sync) now and at every view it learns, before a
    /// request runs under that view: what a client on this host checks around its short-circuit reads.
    public func publishState(_ publish: @escaping @Sendable (_ epoch: UInt64, _ inSync: Bool) -> Void) {
        let member = self.member
        agent.observeViews { view in publish(view.epoch, view.members[member] == .inSync) }
    }

    public func seek(_ file: OpenFile, from offset: UInt64, to target: SeekTarget, context: OperationContext)
        async throws -> UInt64
    {
        _ = try await admit(context)
        return try await next.seek(file, from: offset, to: target, context: context)
    }

    public func lock(_ file: OpenFile, _ request: LockRequest, wait: Bool, context: OperationContext) async throws {
        _ = try await admit(context)
        try await next.lock(file, request, wait: wait, context: context)
    }

    public func testLock(_ file: OpenFile, _ request: LockRequest, context: OperationContext) async throws
        -> LockRequest?
    {
        _ = try await admit(context)
        return try await next.testLock(file, request, context: context)
    }

    public func readDirectory(_ directory: FileID, after cookie: UInt64, countMax: Int, context: OperationContext)
        async throws -> DirectoryPage
    {
        _ = try await admit(context)
        return try await next.readDirectory(directory, after: cookie, countMax: countMax, context: context)
    }

    public func readSymbolicLink(_ file: FileID, context: OperationContext) async throws -> String {
        _ = try await admit(context)
        return try await next.readSymbolicLink(file, context: context)
    }

    public func extendedAttribute(_ name: String, of file: FileID, context: OperationContext) async throws -> [UInt8] {
        _ = try await admit(context)
        return try await next.extendedAttribute(name, of: file, context: context)
    }

    public func extendedAttributeNames(of file: FileID, context: OperationContext) async throws -> [String] {
        _ = try await admit(context)
        return try await next.extendedAttributeNames(of: file, context: context)
    }

    /// What the daemon's heartbeat reads (``ControlRequest/memberStatus``, in any epoch: it asks whether the brick
    /// answers, and what it has recorded for heal).
    /// The set's view as this member knows it, and its own position in it (for metrics).
    public var currentView: (view: ReplicaSetView, member: Int) { (agent.view, member) }

    public var status: MemberStatus {
        let pending = journal.summary().sorted { $0.key < $1.key }.map { member, summary in
            MemberStatus.Pending(
                member: member, files: summary.files, directories: summary.directories, bytes: summary.bytes)
        }
        return MemberStatus(epoch: agent.view.epoch, bytesHealed: bytesHealed, pending: pending)
    }

    /// Without an epoch (a liveness check, `df` on a brick) it is answered in any epoch: it says whether the brick
    /// answers, not what it holds.
    public func fileSystemStatistics(context: OperationContext) async throws -> FileSystemStatistics {
        if context.replication.isReplicated { _ = try await admit(context) }
        return try await next.fileSystemStatistics(context: context)
    }
}
