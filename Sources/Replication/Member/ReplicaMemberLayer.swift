import Logging
import MortarCore
import MortarMembership
import Synchronization

/// A brick's part in primary-copy replication, above its storage. For a client's change it is the primary: it
/// orders the change against conflicting ones (``RangeSequencer``), applies it, forwards it to the other members
/// and answers only when every in-sync member has applied it — or, for a member that could not, once the manager
/// has taken that member out of the in-sync set. For a forwarded change it is a backup: it applies the change as
/// it is. Either way a request whose epoch is not the member's own is refused, so a primary deposed by a newer
/// epoch can acknowledge nothing.
public final class ReplicaMemberLayer: GuardLayer, Sendable {
    public let next: any FileOperations
    let agent: any ReplicaSetAgent
    let sequencer = RangeSequencer()
    let backups = BackupHandles()
    public let journal: HealJournal
    /// Changes applied here whose outcome on the other members is not known here yet, in memory, recorded under
    /// the member that ordered them (or ``unsettled``). See ``recordIntent(_:origin:view:)`` and
    /// ``HealWorker`` for how each is settled.
    public let intents: HealJournal
    /// Bytes this member has copied to healing members, for `heal info` and the incremental-heal test.
    let healedBytes = Atomic<UInt64>(0)
    /// Client opens with O_APPEND: the primary writes them at the end itself, so every member writes the same
    /// offset (a backup's own O_APPEND would land wherever its copy ends).
    let appendHandles = Mutex<Set<UInt64>>([])
    let logger: Logger
    /// Told of every forward this member sends as a primary: to whom, how long it took, whether it failed (for
    /// metrics); nil tells nobody.
    let forwardObserver = Mutex<(@Sendable (_ member: Int, _ took: Duration, _ failed: Bool) -> Void)?>(nil)

    /// Sets who is told of each forward (``forwardObserver``).
    public func observeForwards(_ observer: @escaping @Sendable (_ member: Int, _ took: Duration, _ failed: Bool) -> Void) {
        forwardObserver.withLock { $0 = observer }
    }

    public init(next: any FileOperations, agent: any ReplicaSetAgent, journal: HealJournal, logger: Logger) {
        self.next = next
        self.agent = agent
        self.journal = journal
        self.intents = HealJournal(logger: logger)
        self.logger = logger
        adoptRecordsOfEarlierRun()
    }

    /// This member's own records loaded from its markers stand for changes whose outcome its previous run never
    /// learned (the process died with them applied): each is settled as unacknowledged, the whole item, since a
    /// marker keeps no ranges. Done before the layer serves anything, so only those are adopted.
    private func adoptRecordsOfEarlierRun() {
        var changes: [HealJournal.Change] = journal.pendingDirectories(of: member).map { .directory($0.id) }
        changes += journal.pendingFiles(of: member).map { .wholeFile($0.id) }
        guard !changes.isEmpty else { return }
        logger.info("settling \(changes.count) items this member changed before it restarted")
        intents.recordInMemory(changes, for: [Self.unsettled], epoch: agent.view.epoch)
    }

    /// The key in ``intents`` of changes that may be on some members and not others, and that this member must
    /// see settled: by the file's primary copying its version to every member while this one is in sync, or by
    /// being healed to the in-sync members' version while it is not.
    public static let unsettled = -1

    public var bytesHealed: UInt64 { healedBytes.load(ordering: .relaxed) }

    var member: Int { agent.member }

    /// The view a request runs under: the one of the request's epoch, which must be this member's (a sender that
    /// is ahead is waited for briefly, while the manager's news reaches this brick).
    func admit(_ context: OperationContext) async throws -> ReplicaSetView {
        let stamp = context.replication
        guard stamp.isReplicated else {
            throw FileSystemError.invalidArgument(
                "this brick is a member of a replicated volume; the request carries no replica-set epoch "
                    + "(is the client older than the volume?)")
        }
        var view = agent.view
        if stamp.epoch > view.epoch {
            view = await agent.view(atLeast: stamp.epoch, waitingAtMost: Limits.replicaEpochWaitMilliseconds)
        }
        guard stamp.epoch == view.epoch else {
            throw FileSystemError(
                .membershipChanged, "request of epoch \(stamp.epoch); replica set \(view.setIndex) is in epoch \(view.epoch)")
        }
        let state = view.members[member]
        let admitted = stamp.role == .client ? state == .inSync : state != .outOfSync
        guard admitted else {
            throw FileSystemError(
                .membershipChanged, "member \(member) of replica set \(view.setIndex) is \(state.rawValue) in epoch \(view.epoch)")
        }
        return view
    }

    /// Who orders a change: the file's primary, or for namespace changes the set's namespace primary.
    enum Orderer {
        case file(FileID)
        case namespace
    }

    /// Runs a change: as the primary for a client's request (ordered, applied, forwarded, settled), as it is for a
    /// forwarded one.
    func change<Result: Sendable>(
        _ context: OperationContext, orderedBy orderer: Orderer, keys: [SequenceKey],
        records: [HealJournal.Change],
        local: () async throws -> Result,
        forward: @escaping @Sendable (_ member: Int, _ context: OperationContext) async throws -> Void
    ) async throws -> Result {
        let view = try await admit(context)
        guard context.replication.role == .client else {
            // A backup that cannot record the change (what out-of-sync members miss, its own intent) refuses it:
            // the primary then reports it, and it stops being a witness whose record someone would trust.
            if context.replication.role == .forwarded {
                try await recordIntent(records, origin: orderingMember(view, orderer) ?? Self.unsettled, view: view)
            }
            return try await local()
        }
        try checkPrimary(view, orderer)
        let start = ContinuousClock.now
        let ticket = await sequencer.begin(keys)
        defer { sequencer.finish(ticket) }
        let ordered = ContinuousClock.now
        let result: Result
        do {
            // The intent and heal markers first: a change whose marker cannot be written is not applied (a
            // restart would forget that it may differ here, or that the absent members missed it). That is this
            // member's disk failing, so it steps down.
            try await recordIntent(records, origin: member, view: view)
            result = try await local()
        } catch let error as FileSystemError where Self.isStorageFailure(error) {
            // A storage failure may have applied part of the change: settled like an unacknowledged one.
            await recordUnsettled(records, because: error)
            guard view.inSyncMembers.count > 1 else { throw error }
            try await stepDown(view, because: error)
        }
        let applied = ContinuousClock.now
        do {
            try await forwardAndSettle(view, context: context, records: records, forward: forward)
        } catch {
            await recordUnsettled(records, because: error)
            throw error
        }
        let settled = ContinuousClock.now
        if settled - start > .milliseconds(Limits.replicaViewWatchGraceMilliseconds) {
            logger.debug(
                "a change in epoch \(view.epoch) took \(settled - start): \(ordered - start) waiting for its turn, \(applied - ordered) applying it here, \(settled - applied) forwarding and settling it")
        }
        return result
    }

    /// The member that orders changes of `orderer` in `view`.
    func orderingMember(_ view: ReplicaSetView, _ orderer: Orderer) -> Int? {
        switch orderer {
        case .file(let file): view.primary(for: file)
        case .namespace: view.namespacePrimary
        }
    }

    /// Before a change is applied here, as primary or backup: noted in memory as awaiting the outcome its orderer
    /// (`origin`) decides, and on disk as this member's own record (one marker per item, written once), together
    /// with what each out-of-sync member misses when this member is in sync (their witness). Throws when a
    /// marker cannot be written; the change is then not applied.
    ///
    /// Why every member notes its own changes: a primary that dies between forwards leaves the change on some
    /// members and not others, with nobody to record it for anyone. The members that hold it know it only from
    /// this note, and a member that dies with it applied knows it only from its marker after the restart.
    func recordIntent(_ records: [HealJournal.Change], origin: Int, view: ReplicaSetView) async throws {
        guard !records.isEmpty else { return }
        intents.recordInMemory(records, for: [origin], epoch: view.epoch)
        let missing =
            view.members[member] == .inSync ? view.members.indices.filter { view.members[$0] == .outOfSync } : []
        if !missing.isEmpty { try await journal.record(records, for: missing, epoch: view.epoch) }
        // This member's own record is only its durable marker (after a restart every marker stands for the whole
        // item), so it tracks presence, not byte ranges, which would be merged on every write for nothing.
        try await journal.record(Self.presence(of: records), for: [member], epoch: view.epoch)
    }

    /// The items `records` touch, without byte ranges: metadata changes for files, directories as they are.
    static func presence(of records: [HealJournal.Change]) -> [HealJournal.Change] {
        records.map { record in
            switch record {
            case .bytes(let id, _), .wholeFile(let id), .metadata(let id): .metadata(id)
            case .directory: record
            }
        }
    }

    /// A change applied here that could not be acknowledged (the set moved on, a member failed and the manager
    /// could not be told) may be on some members only. It is kept as unsettled until ``HealWorker`` settles it:
    /// while this member is in sync the file's primary copies its version to every member, while it is not the
    /// in-sync members record it as missed here, so every copy ends up as one version. Its marker on disk was
    /// written before the change was applied (``recordIntent(_:origin:view:)``), so a restart keeps it too.
    func recordUnsettled(_ records: [HealJournal.Change], because error: any Error) async {
        logger.warning("a change applied here was not acknowledged (\(error)); kept until the set agrees on it")
        intents.recordInMemory(records, for: [Self.unsettled], epoch: agent.view.epoch)
    }

    /// A primary whose own disk fails a change (full, I/O error) leaves the in-sync set instead of failing the
    /// client: the change is then made by the next primary, on members that can hold it. The last in-sync member
    /// cannot leave, and reports the error as it is.
    func stepDown(_ view: ReplicaSetView, because error: FileSystemError) async throws -> Never {
        logger.error("member \(member) of replica set \(view.setIndex) cannot apply a change: \(error); leaving the in-sync set")
        let latest = try await agent.report(.forwardFailed(member: member, epoch: view.epoch))
        guard latest.members[member] != .inSync else { throw error }
        throw FileSystemError(.membershipChanged, "member \(member) left replica set \(view.setIndex): \(error)")
    }

    /// Errors of the member's own storage, as opposed to errors of the request (a missing name, a permission).
    static func isStorageFailure(_ error: FileSystemError) -> Bool {
        switch error.code {
        case .noSpace, .inputOutput, .quotaExceeded, .readOnlyFileSystem: true
        default: false
        }
    }

    /// Whether this member may order a client's change: the set accepts changes, and this member is the change's
    /// primary.
    func checkPrimary(_ view: ReplicaSetView, _ orderer: Orderer) throws {
        guard view.isWritable else {
            throw FileSystemError(
                .readOnlyFileSystem,
                "replica set \(view.setIndex) has \(view.inSyncMembers.count) in-sync members, fewer than the "
                    + "\(view.minInSync) it needs to accept changes")
        }
        try checkOrderer(view, orderer)
    }

    /// Whether this member orders changes of `orderer` in `view`, whether or not the set accepts changes now. A
    /// heal needs only this: it copies what the in-sync members hold to a healing member, and it is how a set
    /// that fell below min-in-sync gets back above it (requiring a writable set there left such a set read-only
    /// for ever).
    func checkOrderer(_ view: ReplicaSetView, _ orderer: Orderer) throws {
        let primary = orderingMember(view, orderer)
        guard primary == member else {
            throw FileSystemError(
                .membershipChanged,
                "member \(member) is not the primary for this change in epoch \(view.epoch) (member \(primary ?? -1) is)")
        }
    }

    /// Sends an applied change to the other members and decides whether it may be acknowledged.
    func forwardAndSettle(
        _ view: ReplicaSetView, context: OperationContext, records: [HealJournal.Change],
        forward: @escaping @Sendable (_ member: Int, _ context: OperationContext) async throws -> Void
    ) async throws {
        let targets = view.forwardTargets(from: member)
        guard !targets.isEmpty else { return }
        var forwarded = context
        forwarded.replication = ReplicationStamp(epoch: view.epoch, role: .forwarded)
        let sent = forwarded
        let observer = forwardObserver.withLock { $0 }
        let failures = try await Self.forward(to: targets, view: view) { [self] target in
            var watched = sent
            watched.replyWatch = takenOut(target, view: view)
            let began = ContinuousClock.now
            do {
                try await forward(target, watched)
                observer?(target, ContinuousClock.now - began, false)
            } catch {
                observer?(target, ContinuousClock.now - began, true)
                throw error
            }
        }
        try await settle(view, failures: failures, records: records, context: context)
    }

    /// Every in-sync member of the newest view must hold the change. A member that failed is reported, and the
    /// change is acknowledged only once the manager has taken it out of the in-sync set — and once every member
    /// still in sync has recorded the change for it: nobody recorded it when it was admitted (the member was in
    /// sync then), and its heal source must know to copy it.
    ///
    /// The records are written before anything else can fail. The change is applied here and on every member that
    /// answered, whatever happens next: the manager may not answer, or the set may fall below min-in-sync and the
    /// client get EROFS. Without a record, the members that failed would later rejoin without the change while
    /// the others keep it — replicas that disagree while every member says "in sync". With it, whoever heals them
    /// copies this member's version, so the set converges on the primary's copy whether or not it was
    /// acknowledged.
    private func settle(
        _ view: ReplicaSetView, failures: [(member: Int, error: any Error)], records: [HealJournal.Change],
        context: OperationContext
    ) async throws {
        guard !failures.isEmpty else { return }
        if let stale = failures.first(where: { Self.isStaleEpoch($0.error) }) {
            throw FileSystemError(
                .membershipChanged, "member \(stale.member) is past epoch \(view.epoch): \(stale.error)")
        }
        let missed = failures.map(\.member)
        try await journal.record(records, for: missed, epoch: view.epoch)
        let holders = view.forwardTargets(from: member).filter { !missed.contains($0) }
        let settling = ContinuousClock.now
        var noted = await noteMissed(missed, records, to: holders, epoch: view.epoch, context: context)
        logger.debug("settling a change members \(missed) failed: notes to members \(holders) took \(ContinuousClock.now - settling)")
        defer { logger.debug("settled a change members \(missed) failed in \(ContinuousClock.now - settling)") }
        var latest = view
        for failure in failures {
            if view.members[failure.member] == .healing && Self.isNotYetHealed(failure.error) {
                // Its heal has not reached this item yet: recorded above (here and on the members that hold the
                // change), the member gets the change when the item is healed.
                continue
            }
            logger.warning(
                "member \(failure.member) of replica set \(view.setIndex) failed a change in epoch \(view.epoch): \(failure.error); reporting it to the manager")
            backups.forget(member: failure.member)
            latest = try await agent.report(.forwardFailed(member: failure.member, epoch: view.epoch))
        }
        for healing in missed where view.members[healing] == .healing && latest.members[healing] == .inSync {
            // It rejoined while this change was under way, without the change: it must be healed again.
            latest = try await agent.report(.forwardFailed(member: healing, epoch: view.epoch))
        }
        try requireHeldByEveryInSyncMember(view, latest: latest, missed: missed)
        // Members in sync in the newest view that have not recorded the miss yet (the note before the report went
        // out in the older epoch, or did not arrive) must record it before the change is acknowledged.
        for other in latest.inSyncMembers where other != member && !noted.contains(other) {
            if await noteMissed(missed, records, to: [other], epoch: latest.epoch, context: context).isEmpty {
                // Its record may now lack the change, so it must not heal anyone: out of the set it goes.
                logger.warning("member \(other) could not record a missed change; reporting it")
                latest = try await agent.report(.forwardFailed(member: other, epoch: latest.epoch))
                try requireHeldByEveryInSyncMember(view, latest: latest, missed: missed + [other])
            } else {
                noted.insert(other)
            }
        }
    }

    /// Asks `members` to record that `missed` lack the change; returns the members that did.
    private func noteMissed(
        _ missed: [Int], _ records: [HealJournal.Change], to members: [Int], epoch: UInt64, context: OperationContext
    ) async -> Set<Int> {
        let note = HealNote(members: missed, changes: records)
        var noteContext = context
        noteContext.userID = 0
        noteContext.groupID = 0
        noteContext.replication = ReplicationStamp(epoch: epoch, role: .heal)
        var recorded: Set<Int> = []
        for other in members {
            do {
                _ = try await agent.peer(other).control(.recordMissed(note), context: noteContext)
                recorded.insert(other)
            } catch {
                logger.warning("member \(other) could not record that members \(missed) missed a change: \(error)")
            }
        }
        return recorded
    }

    private func requireHeldByEveryInSyncMember(_ view: ReplicaSetView, latest: ReplicaSetView, missed: [Int]) throws {
        let holders = Set([member] + view.forwardTargets(from: member)).subtracting(missed)
        guard latest.inSyncMembers.allSatisfy(holders.contains), latest.isWritable else {
            throw FileSystemError(
                .membershipChanged,
                "replica set \(view.setIndex) moved to epoch \(latest.epoch) and the change is not on every in-sync member")
        }
    }

    static func isStaleEpoch(_ error: any Error) -> Bool {
        (error as? FileSystemError)?.code == .membershipChanged
    }

    /// What a healing member answers for a file or name the heal has not reached yet.
    static func isNotYetHealed(_ error: any Error) -> Bool {
        guard let code = (error as? FileSystemError)?.code else { return false }
        return code == .notFound || code == .staleHandle || code == .badFileHandle
    }

    /// The handle of `file` on `target`, opened read-write the first time a change needs it.
    func backupHandle(of file: FileID, on target: Int, context: OperationContext) async throws -> OpenFile {
        let peer = try agent.peer(target)
        return try await backups.handle(of: file, on: target) {
            try await peer.open(file, flags: .readWrite, context: context)
        }
    }
}
