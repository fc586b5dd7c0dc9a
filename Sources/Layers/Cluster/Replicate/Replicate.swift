import Logging
import MortarCore
import MortarMembership
import NIOCore
import Synchronization

/// The client side of primary-copy replication: one replica set, its members as children. Changes to a file go
/// to the file's primary, namespace changes to the set's namespace primary, reads to the primary too (every
/// in-sync member holds every acknowledged change, and the primary also holds the newest unacknowledged one); the
/// primary does the rest. Every request carries the set's epoch. When a member fails or refuses a request as
/// stale, the layer asks for the newer view and sends the request again to whoever is primary then, for up to
/// `Limits.replicaFailoverWindowMilliseconds` — so a member's death costs callers a pause of about the
/// failure-detection time, never an error.
///
/// Open files carry this layer's own handle numbers, each mapped to the file's handle on every member it has been
/// opened on (a file is reopened on a new primary when the primary changes).
public final class Replicate: FileOperations {
    public let children: [any FileOperations]
    let setIndex: Int
    let membership: any MembershipSource
    let logger: Logger
    /// How long after a request's first failure it is sent again before the failure is the caller's.
    let failoverWindow: Duration
    let openFiles = Mutex(OpenFiles())

    struct OpenFiles {
        var files: [UInt64: ReplicatedOpen] = [:]
        var nextHandle: UInt64 = 1
    }

    struct ReplicatedOpen {
        var id: FileID
        var flags: OpenFlags
        var members: [Int: OpenFile]
    }

    public init(
        children: [any FileOperations], setIndex: Int, membership: any MembershipSource, logger: Logger,
        failoverWindow: Duration = .milliseconds(Limits.replicaFailoverWindowMilliseconds)
    ) {
        precondition(!children.isEmpty, "replicate needs at least one member")
        self.children = children
        self.setIndex = setIndex
        self.membership = membership
        self.logger = logger
        self.failoverWindow = failoverWindow
    }

    /// Who a request goes to.
    enum Target {
        case primary(of: FileID)
        case namespace
    }

    /// Sends `body` to the member `target` names in the current view, stamped with its epoch; on a failure that a
    /// newer view can cure, waits for one and sends again. A request that takes longer than
    /// `Limits.replicaViewWatchGraceMilliseconds` also watches the view meanwhile: when a newer view takes its
    /// member off the request's path (the member was cut off, and its connection will only time out much later),
    /// the request is abandoned and sent to the new primary at once — as if it had failed, which it is free to
    /// have done: a change the old member applies after all is not acknowledged by it, and heal reconciles it.
    func run<Result: Sendable>(
        _ target: Target, context: OperationContext,
        _ body: (_ member: Int, _ context: OperationContext) async throws -> Result
    ) async throws -> Result {
        var view = try membership.view(ofSet: setIndex)
        // The failover window starts at the first failure: a request that failed slowly still gets its retries.
        var deadline: ContinuousClock.Instant?
        while true {
            let member = try member(for: target, in: view)
            var stamped = context
            stamped.replication = ReplicationStamp(epoch: view.epoch, role: .client)
            let start = ContinuousClock.now
            do {
                switch try await attempt(body, member: member, context: stamped, target: target, view: view) {
                case .answered(let result):
                    let elapsed = ContinuousClock.now - start
                    if elapsed > .milliseconds(Limits.replicaViewWatchGraceMilliseconds) {
                        logger.debug("member \(member) of replica set \(setIndex) answered after \(elapsed) in epoch \(view.epoch) (\(target))")
                    }
                    return result
                case .abandoned(let newer):
                    logger.debug("member \(member) of replica set \(setIndex) left the path in epoch \(newer.epoch)")
                    deadline = deadline ?? ContinuousClock.now + failoverWindow
                    view = newer
                }
            } catch let error as FileSystemError where Self.curedByNewView(error) {
                let end = deadline ?? ContinuousClock.now + failoverWindow
                deadline = end
                let remaining = end - ContinuousClock.now
                guard remaining > .zero else { throw failedOver(error, view: view) }
                logger.debug("member \(member) of replica set \(setIndex) failed in epoch \(view.epoch) after \(ContinuousClock.now - start): \(error)")
                // A newer view, or after a short pause the same one: a member that restarted (faster than the
                // failure detector notices) is simply asked again.
                view = try await membership.refresh(
                    set: setIndex, newerThan: view.epoch,
                    waitingAtMost: min(remaining.milliseconds, Limits.replicaRetryPauseMilliseconds))
            }
        }
    }

    /// How one attempt ended: the member answered, or a newer view took it off the request's path first.
    enum Attempt<Result: Sendable>: Sendable {
        case answered(Result)
        case abandoned(ReplicaSetView)
    }

    /// What one attempt's watch has learned: the newest view it saw, and the view that ended the attempt.
    private final class AttemptWatch: Sendable {
        private struct State {
            var known: ReplicaSetView
            var abandonedFor: ReplicaSetView?
        }

        private let state: Mutex<State>

        init(view: ReplicaSetView) {
            state = Mutex(State(known: view))
        }

        var known: ReplicaSetView { state.withLock { $0.known } }
        var abandonedFor: ReplicaSetView? { state.withLock { $0.abandonedFor } }

        func learned(_ view: ReplicaSetView, abandons: Bool) {
            state.withLock { state in
                guard view.epoch > state.known.epoch else { return }
                state.known = view
                if abandons { state.abandonedFor = view }
            }
        }
    }

    /// Sends `body` to `member` with a watch on its replies (``ReplyWatch``): a reply that has not come within
    /// `Limits.replicaViewWatchGraceMilliseconds` has the connection ask for a newer view, and when one moves the
    /// target off `member` the call ends at once (the reply, if it comes, is dropped) and the attempt is abandoned.
    /// The watch runs only for slow replies, on the connection's own timer: nothing per request.
    private func attempt<Result: Sendable>(
        _ body: (_ member: Int, _ context: OperationContext) async throws -> Result, member: Int,
        context: OperationContext, target: Target, view: ReplicaSetView
    ) async throws -> Attempt<Result> {
        let watch = AttemptWatch(view: view)
        var watched = context
        watched.replyWatch = ReplyWatch(grace: .milliseconds(Limits.replicaViewWatchGraceMilliseconds)) {
            [self] in
            await self.check(watch, target: target, member: member)
        }
        do {
            return .answered(try await body(member, watched))
        } catch {
            if let newer = watch.abandonedFor { return .abandoned(newer) }
            throw error
        }
    }

    /// Asks for a view newer than the attempt's newest; an error that ends the call when it moves the target off
    /// `member`, nil to go on waiting.
    private func check(_ watch: AttemptWatch, target: Target, member: Int) async -> FileSystemError? {
        let known = watch.known
        let newer: ReplicaSetView
        do {
            newer = try await membership.refresh(set: setIndex, newerThan: known.epoch, waitingAtMost: 0)
        } catch {
            return nil  // A set the membership has no view of: the request decides alone.
        }
        guard newer.epoch > known.epoch else { return nil }
        // A view with no member for the target: the request's own outcome decides.
        let next = try? self.member(for: target, in: newer)
        let abandons = next != nil && next != member
        watch.learned(newer, abandons: abandons)
        guard abandons else { return nil }
        return FileSystemError(
            .membershipChanged,
            "member \(member) of replica set \(setIndex) left the request's path in epoch \(newer.epoch) while it waited")
    }

    func member(for target: Target, in view: ReplicaSetView) throws(FileSystemError) -> Int {
        let member: Int?
        switch target {
        case .primary(let file): member = view.primary(for: file)
        case .namespace: member = view.namespacePrimary
        }
        guard let member else {
            throw FileSystemError(.notConnected, "replica set \(view.setIndex) has no in-sync member")
        }
        // The membership source checks views against the spec this layer was built from; a source that did not
        // must still not make `children[member]` trap.
        guard children.indices.contains(member) else {
            throw FileSystemError.inputOutput(
                "the view of replica set \(setIndex) names member \(member); the set has \(children.count) members")
        }
        return member
    }

    /// The error a request reports when the failover window ran out: the member's own, except that a refusal as
    /// stale (EREMCHG, which tells this layer to fetch the new view and never reaches applications) becomes
    /// ETIMEDOUT — the set's new view did not reach this client in time (its manager unreachable or stalled).
    func failedOver(_ error: FileSystemError, view: ReplicaSetView) -> FileSystemError {
        guard error.code == .membershipChanged else { return error }
        return FileSystemError(
            .timedOut,
            "replica set \(setIndex): no view newer than epoch \(view.epoch) came within \(failoverWindow) of the "
                + "first failure; last refusal: \(error.message)")
    }

    /// Errors of a member that is gone, or of a view that is no longer current.
    static func curedByNewView(_ error: FileSystemError) -> Bool {
        switch error.code {
        case .membershipChanged, .notConnected, .timedOut, .connectionRefused, .connectionReset: true
        default: false
        }
    }

    // MARK: Open files

    func register(_ id: FileID, flags: OpenFlags, member: Int, file: OpenFile) -> OpenFile {
        openFiles.withLock { state in
            let handle = state.nextHandle
            state.nextHandle += 1
            state.files[handle] = ReplicatedOpen(id: id, flags: flags, members: [member: file])
            return OpenFile(id: id, handle: handle)
        }
    }

    /// The file's handle on `member`, opening it there first if this is the first request that goes to it.
    func handle(of file: OpenFile, on member: Int, context: OperationContext) async throws -> OpenFile {
        let open = try openFiles.withLock { state in
            guard let open = state.files[file.handle], open.id == file.id else {
                throw FileSystemError(.badFileHandle, "file handle \(file.handle) is not open")
            }
            return open
        }
        if let existing = open.members[member] { return existing }
        let opened = try await children[member].open(
            file.id, flags: open.flags.subtracting(OpenFlags.creationOnly), context: context)
        let kept = openFiles.withLock { state -> OpenFile? in
            guard state.files[file.handle] != nil else { return nil }
            if let raced = state.files[file.handle]?.members[member] { return raced }
            state.files[file.handle]?.members[member] = opened
            return opened
        }
        guard let kept else {
            // Cleanup: the handle was released meanwhile; that is the error to report.
            try? await children[member].release(opened, context: context)
            throw FileSystemError(.badFileHandle, "file handle \(file.handle) was released")
        }
        // Tidying a duplicate open that lost a race; the kept handle serves.
        if kept != opened { try? await children[member].release(opened, context: context) }
        return kept
    }

    /// Runs `body` on the file's primary with the primary's handle.
    func onPrimary<Result: Sendable>(
        _ file: OpenFile, context: OperationContext,
        _ body: (_ member: Int, _ handle: OpenFile, _ context: OperationContext) async throws -> Result
    ) async throws -> Result {
        try await run(.primary(of: file.id), context: context) { member, stamped in
            let handle = try await handle(of: file, on: member, context: stamped)
            return try await body(member, handle, stamped)
        }
    }
}
