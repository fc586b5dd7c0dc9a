import MortarCore
import Synchronization

/// Wakes waiters when their brick learns a newer view of its set, by whatever route it came — the manager's push
/// with every heartbeat, a request that carried a newer epoch, the answer to a report — without asking the
/// manager itself. For work that only reacts to views (the heal worker between passes): asking would cost a
/// management request, a TLS connection, every poll interval for the life of the brick.
///
/// Fed by ``ReplicaSetAgent/observeViews(_:)``; epochs it is told of only move forward.
final class ViewChangeSignal: Sendable {
    private struct Waiter {
        let epoch: UInt64
        let continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var epoch: UInt64 = 0
        var waiters: [UInt64: Waiter] = [:]
        var nextID: UInt64 = 0
    }

    private let state = Mutex(State())

    /// Takes a view the brick learned; wakes everyone waiting for an epoch before it.
    func learned(_ view: ReplicaSetView) {
        let due = state.withLock { state -> [Waiter] in
            guard view.epoch > state.epoch else { return [] }
            state.epoch = view.epoch
            let due = state.waiters.filter { $0.value.epoch < view.epoch }
            for id in due.keys { state.waiters.removeValue(forKey: id) }
            return Array(due.values)
        }
        for waiter in due { waiter.continuation.resume() }
    }

    /// Returns once a view newer than `epoch` has been learned, after `milliseconds`, or when the task is
    /// cancelled, whichever comes first.
    func wait(newerThan epoch: UInt64, atMost milliseconds: Int64) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                // Cancelled means the view came first (or the caller stopped): either way the wait is over.
                try? await Task.sleep(for: .milliseconds(milliseconds))
            }
            group.addTask { await self.learnedView(newerThan: epoch) }
            await group.next()
            group.cancelAll()
        }
    }

    private func learnedView(newerThan epoch: UInt64) async {
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                // Under the lock: a cancellation whose handler ran before this finds nothing to resume, so the
                // cancelled flag is checked here; one whose handler runs after finds the waiter.
                let now = state.withLock { state -> Bool in
                    if state.epoch > epoch || Task.isCancelled { return true }
                    state.waiters[id] = Waiter(epoch: epoch, continuation: continuation)
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.continuation.resume()
        }
    }
}
