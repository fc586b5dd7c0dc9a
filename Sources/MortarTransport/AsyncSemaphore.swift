import Synchronization

/// A counting semaphore for async code: bounds how many requests are in flight on a connection. Waiters queue
/// in arrival order; the queue is bounded by the number of tasks that can call ``acquire()``, which the callers'
/// own limits bound.
public final class AsyncSemaphore: Sendable {
    private struct State {
        var available: Int
        var waiters: [CheckedContinuation<Void, Never>] = []
        var waitersStart = 0
    }

    private let state: Mutex<State>

    public init(value: Int) {
        precondition(value > 0, "a semaphore needs at least one slot")
        state = Mutex(State(available: value))
    }

    public func acquire() async {
        // Fast path: a free slot costs a lock, not a suspension (which could move the task to another thread).
        let acquired = state.withLock { state -> Bool in
            guard state.available > 0 else { return false }
            state.available -= 1
            return true
        }
        if acquired { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let acquired = state.withLock { state -> Bool in
                if state.available > 0 {
                    state.available -= 1
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if acquired { continuation.resume() }
        }
    }

    public func release() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard state.waitersStart < state.waiters.count else {
                state.available += 1
                return nil
            }
            let next = state.waiters[state.waitersStart]
            state.waitersStart += 1
            if state.waitersStart == state.waiters.count {
                state.waiters.removeAll(keepingCapacity: true)
                state.waitersStart = 0
            }
            return next
        }
        waiter?.resume()
    }
}
