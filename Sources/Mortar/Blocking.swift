import MortarCore
import NIOConcurrencyHelpers

/// The blocking form of the client library, for threads that cannot `await`: C callers through the libgfapi
/// drop-in, FUSE worker threads, plain POSIX threads.
///
/// `Blocking.run` starts the async call as a task whose executor is the calling thread itself: the thread parks
/// until the task has work, runs it, and returns when the task finishes. A call therefore costs two thread
/// switches (to the connection's event loop and back), not four (through the cooperative pool and back), and it
/// never needs a cooperative-pool thread — so C threads blocked in the library cannot starve the pool.
///
/// It must not be called on an event loop thread that serves a connection the call needs (the thread would wait
/// for a reply only it can read), nor from a task on the cooperative pool.
public enum Blocking {
    public static func run<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
        // A thread copied by fork from one that used the library must not run the call's jobs: see ForkedThread.
        if ForkedThread.isCopy { return try ForkedThread.onFreshThread { try run(body) } }
        let executor = CallingThreadExecutor.borrow()
        defer { executor.giveBack() }
        let outcome = NIOLockedValueBox<Result<T, any Error>?>(nil)
        // The one unstructured task in the library: the bridge from a thread that cannot await into async code.
        // The calling thread runs it and waits for it, so it never outlives the call.
        Task(executorPreference: executor) {
            let result: Result<T, any Error>
            do {
                result = .success(try await CallingThread.$mayBlock.withValue(true) { try await body() })
            } catch {
                result = .failure(error)
            }
            outcome.withLockedValue { $0 = result }
            executor.finish()
        }
        executor.runUntilFinished()
        guard let result = outcome.withLockedValue({ $0 }) else {
            preconditionFailure("blocking call finished without a result")
        }
        return try result.get()
    }
}

/// A task executor that is one parked thread: jobs enqueued from any thread are run by the thread that called
/// ``runUntilFinished()``, in order, until ``finish()``.
///
/// Executors are never freed: a call borrows one from a pool and gives it back. The thread that enqueues a job
/// (an event loop resuming the task with its reply) still touches the executor's condition after it has released
/// the lock — NIO's `ConditionLock.unlock(withValue:)` broadcasts after unlocking — and by then the calling thread
/// may have run that job, finished the call and moved on. Freed at that point, the executor was written through
/// a dangling pointer: fio crashed with SIGSEGV in `pthread_cond_broadcast` through the drop-in, one run in tens,
/// during a failover test. A pooled executor is still there, and a stray broadcast only wakes a thread that
/// checks its condition again. The pool holds as many executors as calls were ever blocked at once, which the
/// caller's thread count bounds.
final class CallingThreadExecutor: TaskExecutor, @unchecked Sendable {
    private enum Signal: Int { case idle, work }

    /// Executors no call holds now.
    private static let pool = NIOLockedValueBox<[CallingThreadExecutor]>([])

    // `pending` and `finished` are guarded by `condition`; the class is Sendable because of that lock.
    private let condition = ConditionLock(value: Signal.idle.rawValue)
    private var pending: [UnownedJob] = []
    private var finished = false

    private init() {}

    /// Executors ever made: at most as many as calls were ever blocked at once (for tests).
    private static let made = NIOLockedValueBox(0)

    /// An executor for one call, made ready to run a new task.
    static func borrow() -> CallingThreadExecutor {
        let executor =
            pool.withLockedValue { $0.popLast() }
            ?? {
                made.withLockedValue { $0 += 1 }
                return CallingThreadExecutor()
            }()
        executor.condition.lock()
        executor.finished = false
        executor.condition.unlock(withValue: Signal.idle.rawValue)
        return executor
    }

    /// Returns the executor to the pool once its call has finished.
    func giveBack() {
        Self.pool.withLockedValue { $0.append(self) }
    }

    /// Executors made so far (for tests).
    static var madeCount: Int { made.withLockedValue { $0 } }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        pending.append(job)
        condition.unlock(withValue: Signal.work.rawValue)
    }

    /// Called by the task as its last step, on the executor's own thread.
    func finish() {
        condition.lock()
        finished = true
        condition.unlock(withValue: Signal.work.rawValue)
    }

    func runUntilFinished() {
        var batch: [UnownedJob] = []
        while true {
            condition.lock(whenValue: Signal.work.rawValue)
            swap(&batch, &pending)
            let isFinished = finished
            condition.unlock(withValue: Signal.idle.rawValue)
            for job in batch { job.runSynchronously(on: asUnownedTaskExecutor()) }
            if isFinished && batch.isEmpty { return }
            batch.removeAll(keepingCapacity: true)
        }
    }
}
