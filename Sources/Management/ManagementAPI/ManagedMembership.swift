import Logging
import MortarCore
import MortarMembership
import MortarVolumeSpec
import Synchronization

/// A volume's replica-set views as the manager publishes them, for clients (``MembershipSource``) and for bricks.
/// Views only move forward: an answer older than what is known (from a slower daemon, say) is ignored. Asking
/// for something newer polls the manager every `Limits.membershipPollMilliseconds` until it appears or the
/// caller's time is up — a few small requests during a failover, none otherwise.
public final class ManagedMembership: MembershipSource, Sendable {
    let client: ManagementClient
    let volume: String
    /// One valid view per set known from the volume's spec: installs replace a view, never drop one, and only
    /// ``grow(to:)`` adds sets (add-brick gave the volume more). Every view from the manager is checked against
    /// the set's member count (``memberCounts``) before it is installed: the replicate layers and the member layer
    /// index their members by the view's positions, and a view that named a set or a member the spec does not
    /// have would trap them.
    private let views: Mutex<[ReplicaSetView]>
    /// Told of every view installed, under the same lock as the install (see ``observeViews(ofSet:_:)``).
    private let observers = Mutex<[(setIndex: Int, handler: @Sendable (ReplicaSetView) -> Void)]>([])
    /// Called with the volume's spec after a view moved to a new epoch (a brick may have been replaced).
    private let specHandler = Mutex<(@Sendable (VolumeSpec) -> Void)?>(nil)
    /// Whether a view moved to a new epoch since the spec was last fetched for the handler.
    private let specMoved = Mutex(false)
    /// Wakes ``followSpec()``; one pending notice stands for any number of moves.
    private let specNotices: AsyncStream<Void>
    private let specNoticeSink: AsyncStream<Void>.Continuation
    /// Concurrent fetches of the views share one request: during a failover every request in flight (and every
    /// change a primary is settling) asks at once, and each asking alone made a storm of management connections.
    private let fetches = SingleFlight<String, Void>()
    /// Concurrent reports of the same event share one request: every change that a lost member failed reports it.
    private let reports = SingleFlight<Report, ReplicaSetView>()

    private struct Report: Hashable, Sendable {
        let setIndex: Int
        let event: MembershipEvent
    }

    /// Fetches the current views of `spec`'s replica sets once; fails like any management request (volume
    /// missing, daemon unreachable), and with EPROTO when the answer does not fit the spec.
    public static func fetch(spec: VolumeSpec, client: ManagementClient) async throws -> ManagedMembership {
        let memberCounts = try memberCounts(of: spec.graph)
        let views = try await client.volumeMembership(name: spec.name)
        return try ManagedMembership(volume: spec.name, client: client, memberCounts: memberCounts, views: views)
    }

    init(volume: String, client: ManagementClient, memberCounts: [Int], views: [ReplicaSetView]) throws(FileSystemError) {
        self.volume = volume
        self.client = client
        self.views = Mutex(try Self.validated(views, volume: volume, memberCounts: memberCounts))
        (specNotices, specNoticeSink) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// How many members each known replica set has, by set index: from the spec, as its views were checked.
    var memberCounts: [Int] {
        views.withLock { $0.map(\.members.count) }
    }

    /// The member count of each replica set in `graph`, by set index. The spec comes from the manager too: its
    /// replicate layers must number their sets 0, 1, … once each, with 1 to `Limits.replicaCountMax` members.
    static func memberCounts(of graph: LayerSpec) throws(FileSystemError) -> [Int] {
        var counts: [Int: Int] = [:]
        var pending = [graph]
        while let layer = pending.popLast() {
            switch layer {
            case .distribute(_, let children):
                pending.append(contentsOf: children)
            case .replicate(let options, let children):
                guard (0..<Limits.bricksPerVolumeMax).contains(options.setIndex), counts[options.setIndex] == nil,
                    (1...Limits.replicaCountMax).contains(children.count)
                else {
                    throw FileSystemError.protocolError(
                        "the volume's spec has a replicate layer for set \(options.setIndex) with \(children.count) "
                            + "members; sets must be numbered 0, 1, … once each, with 1 to \(Limits.replicaCountMax) members")
                }
                counts[options.setIndex] = children.count
            case .protocolClient:
                break
            }
        }
        return try (0..<counts.count).map { (setIndex: Int) throws(FileSystemError) -> Int in
            guard let count = counts[setIndex] else {
                throw FileSystemError.protocolError("the volume's spec has no replicate layer for set \(setIndex)")
            }
            return count
        }
    }

    /// A whole answer of `GET /v1/volumes/NAME/membership`, checked: one view per set of the spec, in set order,
    /// each consistent on its own and the size of its set. Views of sets past the spec's (the volume grew since
    /// the spec was fetched) are left out: ``grow(to:)`` takes them with the spec that has them.
    static func validated(
        _ views: [ReplicaSetView], volume: String, memberCounts: [Int]
    ) throws(FileSystemError) -> [ReplicaSetView] {
        guard views.count >= memberCounts.count, views.count <= Limits.bricksPerVolumeMax else {
            throw FileSystemError.protocolError(
                "the manager sent \(views.count) replica-set views for volume \(volume), which has \(memberCounts.count) sets")
        }
        let known = Array(views.prefix(memberCounts.count))
        for (setIndex, view) in known.enumerated() {
            _ = try view.validated(setIndex: setIndex, memberCount: memberCounts[setIndex])
        }
        return known
    }

    /// Takes the sets a newer spec of the volume adds (add-brick), with their views from the manager; the sets
    /// known stay as they are. A spec that adds none changes nothing; one whose sets do not extend the known ones
    /// (another count of members for a known set) is refused with EPROTO.
    public func grow(to spec: VolumeSpec) async throws {
        let counts = try Self.memberCounts(of: spec.graph)
        let known = memberCounts
        guard counts.count > known.count else { return }
        guard counts.starts(with: known) else {
            throw FileSystemError.protocolError(
                "volume \(volume)'s spec has sets of \(counts) members, which do not extend the known \(known)")
        }
        let answer = try Self.validated(
            try await client.volumeMembership(name: volume), volume: volume, memberCounts: counts)
        views.withLock { views in
            guard views.count < answer.count else { return }  // another caller grew them meanwhile
            views += answer[views.count...]
        }
        for view in answer { installChecked(view) }  // newer views of the known sets, as any answer
    }

    /// The newest valid view of set `setIndex`; EIO for a set the volume's spec does not have (a caller's graph
    /// that does not match the spec the membership was fetched for).
    public func view(ofSet setIndex: Int) throws(FileSystemError) -> ReplicaSetView {
        let view = views.withLock { views in views.indices.contains(setIndex) ? views[setIndex] : nil }
        guard let view else {
            throw FileSystemError.inputOutput(
                "replica set \(setIndex) of volume \(volume) has no view (the volume has \(memberCounts.count) sets)")
        }
        return view
    }

    /// One set of this membership, checked once to exist: its holder (a member brick, which serves one set for
    /// its whole life) reads the set's view without a failure to handle, since sets are never added or dropped.
    public struct CheckedSet: Sendable {
        public let membership: ManagedMembership
        public let setIndex: Int

        /// The newest valid view of the set.
        public var view: ReplicaSetView {
            membership.views.withLock { $0[setIndex] }
        }
    }

    /// The set `setIndex`, checked to be one of the volume's; EIO otherwise.
    public func checkedSet(_ setIndex: Int) throws(FileSystemError) -> CheckedSet {
        _ = try view(ofSet: setIndex)
        return CheckedSet(membership: self, setIndex: setIndex)
    }

    public func refresh(set setIndex: Int, newerThan epoch: UInt64, waitingAtMost milliseconds: Int64) async throws(
        FileSystemError
    ) -> ReplicaSetView {
        let deadline = ContinuousClock.now + .milliseconds(milliseconds)
        while true {
            await update()
            let view = try view(ofSet: setIndex)
            if view.epoch > epoch || ContinuousClock.now >= deadline || Task.isCancelled {
                // The caller retries against the new view next: it should find a replaced brick where it now is.
                if !Task.isCancelled { await followSpecIfMoved() }
                return view
            }
            // Cancelled: the loop ends at the check above on the next round.
            try? await Task.sleep(for: .milliseconds(Limits.membershipPollMilliseconds))
        }
    }

    /// Installs a view the manager returned to a report or pushed to a member; kept only if newer than the one
    /// known. A view that does not fit the spec (``ReplicaSetView/validated(setIndex:memberCount:)``) is refused.
    public func install(_ view: ReplicaSetView) throws(FileSystemError) {
        let counts = memberCounts
        guard counts.indices.contains(view.setIndex) else {
            throw FileSystemError.protocolError(
                "view of replica set \(view.setIndex); volume \(volume) has \(counts.count) sets")
        }
        installChecked(try view.validated(setIndex: view.setIndex, memberCount: counts[view.setIndex]))
    }

    /// Calls `handler` with set `setIndex`'s view now and with every newer view when it is installed — before
    /// anyone can read it from here, so what the handler publishes is never behind what this process acts on.
    /// The handler runs under the views' lock: it must be quick and take no lock of its own that is held while
    /// reading views.
    public func observeViews(ofSet setIndex: Int, _ handler: @escaping @Sendable (ReplicaSetView) -> Void) {
        views.withLock { views in
            observers.withLock { $0.append((setIndex, handler)) }
            if views.indices.contains(setIndex) { handler(views[setIndex]) }
        }
    }

    /// Installs a whole answer of `GET membership` after checking it as a whole.
    func install(answer views: [ReplicaSetView]) throws(FileSystemError) {
        for view in try Self.validated(views, volume: volume, memberCounts: memberCounts) { installChecked(view) }
    }

    private func installChecked(_ view: ReplicaSetView) {
        let newer = views.withLock { views -> Bool in
            guard views[view.setIndex].epoch < view.epoch else { return false }
            views[view.setIndex] = view
            for observer in observers.withLock({ $0 }) where observer.setIndex == view.setIndex {
                observer.handler(view)
            }
            return true
        }
        if newer {
            specMoved.withLock { $0 = true }
            specNoticeSink.yield()
        }
    }

    /// Has `handler` called with the volume's spec whenever a set moves to a new epoch, so the owner can follow a
    /// brick that replace-brick moved (its members' connections are retargeted; nothing else changes). The spec is
    /// fetched by the caller of ``refresh(set:newerThan:waitingAtMost:)`` that saw the move, before it returns,
    /// and by ``followSpec()`` for moves nobody waits for (views pushed to a brick); no task of its own.
    public func watchSpec(_ handler: @escaping @Sendable (VolumeSpec) -> Void) {
        specHandler.withLock { $0 = handler }
    }

    /// Follows the spec whenever a set moves, until the calling task is cancelled: run by an owner that installs
    /// views nobody waits for (a brick's pushed views), as a child of its own task group.
    public func followSpec() async {
        for await _ in specNotices {
            await followSpecIfMoved()
        }
    }

    /// Fetches the spec for the handler if a set moved since the last fetch, and takes the sets it adds.
    func followSpecIfMoved() async {
        guard let handler = specHandler.withLock({ $0 }) else { return }
        guard specMoved.withLock({ moved in defer { moved = false }; return moved }) else { return }
        guard let spec = try? await client.volumeSpec(name: volume) else {
            // Manager unreachable: the current spec stays, and the move stays noted, so the next wait that ends
            // (or the next notice) asks again.
            specMoved.withLock { $0 = true }
            return
        }
        do {
            try await grow(to: spec)
        } catch {
            // The new sets' views could not be fetched or did not fit: a stack following this spec would grow
            // replicate layers that have no view. The move stays noted, so the next wait or notice tries again.
            specMoved.withLock { $0 = true }
            return
        }
        handler(spec)
    }

    /// Asks the manager once, or joins the request another caller has under way; keeps whatever is newer.
    public func update() async {
        do {
            try await fetches.run(volume) {
                try install(answer: try await client.volumeMembership(name: volume))
            }
        } catch {
            // An unreachable manager, an answer that does not fit the spec, or this caller cancelled while another's
            // request runs: the known views stay as they are (still the newest valid ones), and a caller waiting
            // for a newer one gives up on its own deadline.
        }
    }

    /// Reports an event and installs the view that results. Callers reporting the same event at the same time
    /// share one request and its answer.
    public func report(setIndex: Int, _ event: MembershipEvent) async throws -> ReplicaSetView {
        let view = try await reports.run(Report(setIndex: setIndex, event: event)) {
            try await client.reportMembership(volume: volume, setIndex: setIndex, event: event)
        }
        guard view.setIndex == setIndex else {
            throw FileSystemError.protocolError("the manager answered a report about set \(setIndex) with \(view)")
        }
        try install(view)
        return try self.view(ofSet: setIndex)
    }
}
