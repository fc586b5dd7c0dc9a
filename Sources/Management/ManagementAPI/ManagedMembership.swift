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
    private let views: Mutex<[ReplicaSetView]>
    /// Called with the volume's spec after a view moved to a new epoch (a brick may have been replaced).
    private let specHandler = Mutex<(@Sendable (VolumeSpec) -> Void)?>(nil)

    /// Fetches the current views once; fails like any management request (volume missing, daemon unreachable).
    public static func fetch(volume: String, client: ManagementClient) async throws -> ManagedMembership {
        let views = try await client.volumeMembership(name: volume)
        return ManagedMembership(volume: volume, client: client, views: views)
    }

    init(volume: String, client: ManagementClient, views: [ReplicaSetView]) {
        self.volume = volume
        self.client = client
        self.views = Mutex(views)
    }

    public func view(ofSet setIndex: Int) -> ReplicaSetView {
        views.withLock { views in
            guard views.indices.contains(setIndex) else {
                preconditionFailure("replica set \(setIndex) of volume \(volume) is not in its membership")
            }
            return views[setIndex]
        }
    }

    public func refresh(set setIndex: Int, newerThan epoch: UInt64, waitingAtMost milliseconds: Int64) async
        -> ReplicaSetView
    {
        let deadline = ContinuousClock.now + .milliseconds(milliseconds)
        while true {
            await update()
            let view = view(ofSet: setIndex)
            if view.epoch > epoch || ContinuousClock.now >= deadline || Task.isCancelled { return view }
            try? await Task.sleep(for: .milliseconds(Limits.membershipPollMilliseconds))
        }
    }

    /// Installs a view the manager returned to a report.
    public func install(_ view: ReplicaSetView) {
        let newer = views.withLock { views -> Bool in
            guard views.indices.contains(view.setIndex), views[view.setIndex].epoch < view.epoch else { return false }
            views[view.setIndex] = view
            return true
        }
        if newer { refreshSpec() }
    }

    /// Has `handler` called with the volume's spec whenever a set moves to a new epoch, so the owner can follow a
    /// brick that replace-brick moved (its members' connections are retargeted; nothing else changes).
    public func watchSpec(_ handler: @escaping @Sendable (VolumeSpec) -> Void) {
        specHandler.withLock { $0 = handler }
    }

    private func refreshSpec() {
        guard let handler = specHandler.withLock({ $0 }) else { return }
        let client = self.client
        let volume = self.volume
        Task {
            // Manager unreachable: the current spec stays; the next change notice asks again.
            guard let spec = try? await client.volumeSpec(name: volume) else { return }
            handler(spec)
        }
    }

    /// Asks the manager once; keeps whatever is newer.
    public func update() async {
        // Manager unreachable: the views held stay (members refuse a stale epoch, so nothing trusts them blindly).
        guard let fetched = try? await client.volumeMembership(name: volume) else { return }
        for view in fetched { install(view) }
    }

    /// Reports an event and installs the view that results.
    public func report(setIndex: Int, _ event: MembershipEvent) async throws -> ReplicaSetView {
        let view = try await client.reportMembership(volume: volume, setIndex: setIndex, event: event)
        install(view)
        return self.view(ofSet: setIndex)
    }
}
