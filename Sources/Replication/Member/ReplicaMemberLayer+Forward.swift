import MortarCore
import MortarMembership

extension ReplicaMemberLayer {
    /// Sends a change to every target at once and collects the failures. A target that refuses it as stale ends
    /// the wait at once: the set has moved on and nothing can be acknowledged here, so there is no point waiting
    /// for a member that is cut off (its forward would take the whole request timeout). The sends are children of
    /// a task group, so on every exit — all answered, or stale — the rest are cancelled and awaited: nothing sent
    /// by this change is still running when it returns or throws. (A send still waiting after
    /// `Limits.replicaViewWatchGraceMilliseconds` is ended by its own ``ReplyWatch``, see ``takenOut(_:view:)``.)
    static func forward(
        to targets: [Int], view: ReplicaSetView, _ send: @escaping @Sendable (Int) async throws -> Void
    ) async throws -> [(member: Int, error: any Error)] {
        try await withThrowingTaskGroup(of: (member: Int, error: (any Error)?).self) { group in
            for target in targets {
                group.addTask {
                    do {
                        try await send(target)
                        return (target, nil)
                    } catch {
                        return (target, error)
                    }
                }
            }
            var failures: [(member: Int, error: any Error)] = []
            for try await (target, error) in group {
                guard let error else { continue }
                if isStaleEpoch(error) {
                    // Leaving the group's body by a throw cancels the other sends; the group awaits them.
                    group.cancelAll()
                    throw FileSystemError(.membershipChanged, "member \(target) is past epoch \(view.epoch): \(error)")
                }
                failures.append((target, error))
            }
            return failures
        }
    }

    /// The watch on a forward to `target` (``ReplyWatch``): once the reply is overdue it asks for a view newer
    /// than the change's, and a view that no longer has `target` in sync (the manager took a silent member out)
    /// ends the forward as failed at once — as its timeout would have later — to be settled like any failure.
    func takenOut(_ target: Int, view: ReplicaSetView) -> ReplyWatch {
        ReplyWatch(grace: .milliseconds(Limits.replicaViewWatchGraceMilliseconds)) { [agent] in
            let newer = await agent.view(atLeast: view.epoch + 1, waitingAtMost: 0)
            guard newer.epoch > view.epoch, newer.members[target] != .inSync else { return nil }
            return FileSystemError(
                .timedOut,
                "member \(target) was taken out of replica set \(view.setIndex) in epoch \(newer.epoch) while the change of epoch \(view.epoch) was forwarded")
        }
    }
}
