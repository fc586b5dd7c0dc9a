import Logging
import MortarCore
import MortarEtcd
import Synchronization

/// The manager role: which daemon's failure detector may change replica sets' membership. With etcd it is held
/// through a lease on ``EtcdCatalog/managerKey``: the holder renews the lease every
/// `Limits.managerRenewMilliseconds`; a holder that stops (killed, cut off) loses it within
/// `Limits.managerLeaseSeconds`, and another daemon's campaign takes it over. Without etcd the one daemon always
/// holds it.
///
/// Invariants:
/// - The role is believed held only until the lease's deadline as measured from the *start* of the request that
///   last renewed it: etcd renewed it no earlier than that, so the belief never outlasts the lease. Past the
///   deadline the holder keeps renewing; a renewal that succeeds means the lease never expired (etcd answers
///   TTL 0 for one that did), so the role, and its fence, are still this daemon's.
/// - A change that needs the role carries its fence (the creation revision of the key when it was won): etcd
///   refuses the change if the key was recreated since, so a holder that lost the role without noticing (paused,
///   partitioned) cannot change membership after its successor has.
final class ManagerRole: Sendable {
    private struct Held: Sendable {
        var lease: Int64
        var fence: Int64
        var deadline: ContinuousClock.Instant
    }

    private let etcd: EtcdClient?
    private let daemonID: String
    private let logger: Logger
    private let held = Mutex<Held?>(nil)

    /// Without etcd: the role is always held, unfenced.
    init(etcd: EtcdClient?, daemonID: String, logger: Logger) {
        self.etcd = etcd
        self.daemonID = daemonID
        self.logger = logger
    }

    /// Whether this daemon holds the role now.
    var isHeld: Bool {
        guard etcd != nil else { return true }
        return held.withLock { $0.map { ContinuousClock.now < $0.deadline } ?? false }
    }

    /// What a change that needs the role compares in etcd; nil without etcd. Throws when the role is not held.
    func fence() throws(FileSystemError) -> Int64? {
        guard etcd != nil else { return nil }
        let current = held.withLock { held in held.flatMap { ContinuousClock.now < $0.deadline ? $0.fence : nil } }
        guard let current else {
            throw FileSystemError(.notConnected, "this daemon does not hold the manager role")
        }
        return current
    }

    /// The change it needed found the role taken: stop believing it is held.
    func lost() {
        held.withLock { $0 = nil }
        logger.warning("lost the manager role to another daemon")
    }

    /// Campaigns for the role and renews it while held, until cancelled. ``resign()`` then gives it up.
    func run() async {
        guard let etcd else { return }
        while !Task.isCancelled {
            do {
                if held.withLock({ $0 }) == nil {
                    try await campaign(etcd)
                } else {
                    try await renew(etcd)
                }
            } catch {
                // A renewal that fails is tried again: past its deadline the role is not believed held (isHeld), but
                // the lease may well live on — etcd extends leases when its own leader changes, which is when
                // renewals fail — and a later renewal that succeeds keeps the role, fence and all, instead of
                // handing it to another daemon for nothing. A lease that did expire says so (renew sees TTL 0).
                logger.debug("manager role: \(error.message)")
            }
            // Cancelled: the sleep ends at once and the loop with it.
            try? await Task.sleep(for: .milliseconds(Limits.managerRenewMilliseconds))
        }
    }

    /// Gives the role up at once by revoking its lease, so another daemon need not wait out the TTL (a daemon
    /// stopping calls it after ``run()`` returned, from a task that is not cancelled).
    func resign() async {
        guard let etcd, let lease = held.withLock({ current -> Int64? in
            defer { current = nil }
            return current?.lease
        }) else { return }
        do {
            try await etcd.revokeLease(lease)
            logger.info("gave up the manager role")
        } catch {
            logger.warning("could not give up the manager role; it lapses with its lease: \(error.message)")
        }
    }

    private func campaign(_ etcd: EtcdClient) async throws(FileSystemError) {
        if let current = try await etcd.get(EtcdCatalog.managerKey) {
            guard current.value == Array(daemonID.utf8) else { return }
            // This daemon's own key from before a restart: its lease belongs to the old process. Drop it and
            // campaign now rather than wait out the TTL.
            _ = try await etcd.transaction(
                [.value(key: EtcdCatalog.managerKey, equals: Array(daemonID.utf8))],
                success: [.delete(key: EtcdCatalog.managerKey)])
        }
        let start = ContinuousClock.now
        let lease = try await etcd.grantLease(ttlSeconds: Limits.managerLeaseSeconds)
        let result: EtcdTransactionResult
        do {
            result = try await etcd.transaction(
                [.createRevision(key: EtcdCatalog.managerKey, equals: 0)],
                success: [.put(key: EtcdCatalog.managerKey, value: Array(daemonID.utf8), lease: lease.id)])
        } catch {
            try? await etcd.revokeLease(lease.id)  // Tidying: an unused lease expires by itself anyway.
            throw error
        }
        guard result.succeeded else {
            try? await etcd.revokeLease(lease.id)  // Tidying, as above.
            return
        }
        held.withLock {
            $0 = Held(lease: lease.id, fence: result.revision, deadline: start + .seconds(lease.ttlSeconds))
        }
        logger.notice("holding the manager role", metadata: ["fence": "\(result.revision)"])
    }

    private func renew(_ etcd: EtcdClient) async throws(FileSystemError) {
        guard let current = held.withLock({ $0 }) else { return }
        let start = ContinuousClock.now
        let remaining = try await etcd.timingOut(afterMilliseconds: Limits.managerRenewTimeoutMilliseconds)
            .keepAlive(current.lease)
        guard remaining > 0 else {
            held.withLock { $0 = nil }
            logger.warning("manager role lapsed: its lease expired before it was renewed")
            return
        }
        held.withLock { held in
            if held?.lease == current.lease { held?.deadline = start + .seconds(remaining) }
        }
    }
}
