import MortarCore
import MortarMembership

extension ReplicaMemberLayer {
    /// Sends a change to every target at once and collects the failures. A target that refuses it as stale ends
    /// the wait at once: the set has moved on and nothing can be acknowledged here, so there is no point waiting
    /// for a member that is cut off (its forward would take the whole request timeout). For the same reason a
    /// forward still waiting after `Limits.replicaViewWatchGraceMilliseconds` watches the view: a target that a
    /// newer view no longer has in sync (the manager took a silent member out) is counted failed at once, as its
    /// timeout would have counted it later, and settled the same way. The sends and the watch are children of a
    /// task group, so on every exit — all answered, or stale — the rest are cancelled and awaited: nothing sent by
    /// this change is still running when it returns or throws.
    static func forward(
        to targets: [Int], view: ReplicaSetView, agent: (any ReplicaSetAgent)? = nil,
        _ send: @escaping @Sendable (Int) async throws -> Void
    ) async throws -> [(member: Int, error: any Error)] {
        try await withThrowingTaskGroup(of: ForwardEvent.self) { group in
            for target in targets {
                group.addTask {
                    do {
                        try await send(target)
                        return .answered(target, nil)
                    } catch {
                        return .answered(target, error)
                    }
                }
            }
            if let agent {
                group.addTask { .newerView(await newerView(than: view.epoch, agent: agent)) }
            }
            var failures: [(member: Int, error: any Error)] = []
            var outstanding = Set(targets)
            while !outstanding.isEmpty, let event = try await group.next() {
                switch event {
                case .answered(let target, let error):
                    guard outstanding.remove(target) != nil, let error else { continue }
                    if isStaleEpoch(error) {
                        // Leaving the group's body by a throw cancels the other sends; the group awaits them.
                        group.cancelAll()
                        throw FileSystemError(.membershipChanged, "member \(target) is past epoch \(view.epoch): \(error)")
                    }
                    failures.append((target, error))
                case .newerView(nil):
                    continue
                case .newerView(let newer?):
                    for target in outstanding.sorted() where newer.members[target] != .inSync {
                        outstanding.remove(target)
                        failures.append((target, FileSystemError(
                            .timedOut, "member \(target) was taken out of replica set \(view.setIndex) in epoch \(newer.epoch) while the change of epoch \(view.epoch) was forwarded")))
                    }
                    if let agent, !outstanding.isEmpty {
                        group.addTask { .newerView(await newerView(than: newer.epoch, agent: agent)) }
                    }
                }
            }
            group.cancelAll()
            return failures
        }
    }

    /// What ends a forward's wait: a target's answer, or the watch's newer view (nil: cancelled).
    enum ForwardEvent: Sendable {
        case answered(Int, (any Error)?)
        case newerView(ReplicaSetView?)
    }

    /// After `Limits.replicaViewWatchGraceMilliseconds`, waits for a view newer than `epoch`; nil when cancelled
    /// first (every forward answered).
    private static func newerView(than epoch: UInt64, agent: any ReplicaSetAgent) async -> ReplicaSetView? {
        do {
            try await Task.sleep(for: .milliseconds(Limits.replicaViewWatchGraceMilliseconds))
        } catch {
            return nil
        }
        while !Task.isCancelled {
            let newer = await agent.view(atLeast: epoch + 1, waitingAtMost: Limits.replicaViewWatchGraceMilliseconds)
            if newer.epoch > epoch { return newer }
        }
        return nil
    }
}
