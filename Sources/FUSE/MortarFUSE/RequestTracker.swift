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
        /// Every task started and not finished, by token; a task appears here once ``start(_:)`` has registered
        /// it, which may be after it finished (then it is in `finishedEarly` and never registered).
        var tasks: [UInt64: Task<Void, Never>] = [:]
        /// Tasks that finished before ``start(_:)`` registered them (at most the in-flight bound).
        var finishedEarly: Set<UInt64> = []
        /// Tasks started and not finished, registered or not.
        var running = 0
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

    var count: Int { state.withLock { $0.running } }

    /// Runs `body` as a tracked task, after waiting for a free slot. Returns the token that names it.
    ///
    /// The task is created outside the lock: creating it enqueues it on the event loop, which may run it to the
    /// end at once — with the lock held, its ``finish(_:)`` waited for this thread on every short request (a
    /// kernel-assisted wait: an eighth of the mount's CPU reading small files). A task that finishes before it is
    /// registered is remembered as finished instead.
    @discardableResult
    func start(_ body: @escaping @Sendable () async -> Void) -> UInt64 {
        slots.wait()
        let token = state.withLock { state in
            let token = state.nextToken
            state.nextToken += 1
            state.running += 1
            return token
        }
        let task = Task(executorPreference: executor) {
            await body()
            self.finish(token)
        }
        state.withLock { state in
            if state.finishedEarly.remove(token) == nil { state.tasks[token] = task }
        }
        return token
    }

    private func finish(_ token: UInt64) {
        state.withLock { state in
            if state.tasks.removeValue(forKey: token) == nil { state.finishedEarly.insert(token) }
            state.running -= 1
        }
        slots.signal()
    }

    /// Cancels every task and waits until they are gone or `milliseconds` passed. Returns whether all finished.
    /// (A task still being registered when this runs is not cancelled, only waited for: it was started a moment
    /// ago, and its request ends on its own.)
    func cancelAll(waitingAtMost milliseconds: Int64) async -> Bool {
        for task in state.withLock({ Array($0.tasks.values) }) { task.cancel() }
        let deadline = ContinuousClock.now + .milliseconds(milliseconds)
        while count > 0 {
            guard ContinuousClock.now < deadline else { return false }
            // The wait only paces the polling; cancellation of the caller ends it early, which is fine.
            try? await Task.sleep(for: .milliseconds(10))
        }
        return true
    }
}
