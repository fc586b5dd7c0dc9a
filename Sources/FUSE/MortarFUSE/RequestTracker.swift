import Dispatch
import MortarCore
import MortarTransport
import Synchronization

/// The kernel requests the mount is working on.
///
/// A libfuse thread decodes a request and hands it to a task here, then goes back to reading the next one; the
/// task replies when the volume answers. So many requests are in flight with few threads, which is what the
/// library's pipelined connections need to be fast. At most `Limits.mountRequestsInFlightMax` run at once; past
/// that the reading thread waits for a slot, and the kernel's queue waits with it.
///
/// These tasks are the mount's one bridge from C threads into async code (like `Blocking.run` in the library):
/// each is tracked until it finishes, and is cancelled and waited for when the mount ends, so none outlives the
/// session it replies to.
final class RequestTracker: Sendable {
    private struct State {
        var tasks: [UInt64: Task<Void, Never>] = [:]
        var nextToken: UInt64 = 1
    }

    private let state = Mutex(State())
    private let slots: DispatchSemaphore
    private let executor: EventLoopTaskExecutor?
    let capacity: Int

    /// With an executor, tasks prefer it (see ``EventLoopTaskExecutor``); without, they run on the cooperative pool.
    init(capacity: Int = Limits.mountRequestsInFlightMax, executor: EventLoopTaskExecutor? = nil) {
        self.capacity = capacity
        self.executor = executor
        slots = DispatchSemaphore(value: capacity)
    }

    var count: Int { state.withLock { $0.tasks.count } }

    /// Runs `body` as a tracked task, after waiting for a free slot. Returns the token that names it.
    @discardableResult
    func start(_ body: @escaping @Sendable () async -> Void) -> UInt64 {
        slots.wait()
        // The task is created while the lock is held, so it cannot finish (and unregister) before it is registered.
        return state.withLock { state in
            let token = state.nextToken
            state.nextToken += 1
            state.tasks[token] = Task(executorPreference: executor) {
                await body()
                self.finish(token)
            }
            return token
        }
    }

    private func finish(_ token: UInt64) {
        let removed = state.withLock { $0.tasks.removeValue(forKey: token) }
        if removed != nil { slots.signal() }
    }

    /// Cancels every task and waits until they are gone or `milliseconds` passed. Returns whether all finished.
    func cancelAll(waitingAtMost milliseconds: Int64) async -> Bool {
        for task in state.withLock({ Array($0.tasks.values) }) { task.cancel() }
        let deadline = ContinuousClock.now + .milliseconds(milliseconds)
        while count > 0 {
            guard ContinuousClock.now < deadline else { return false }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return true
    }
}
