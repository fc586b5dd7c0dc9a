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
        let executor = CallingThreadExecutor()
        let outcome = NIOLockedValueBox<Result<T, any Error>?>(nil)
        // The one unstructured task in the library: the bridge from a thread that cannot await into async code.
        // The calling thread runs it and waits for it, so it never outlives the call.
        Task(executorPreference: executor) {
            let result: Result<T, any Error>
            do { result = .success(try await body()) } catch { result = .failure(error) }
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
final class CallingThreadExecutor: TaskExecutor, @unchecked Sendable {
    private enum Signal: Int { case idle, work }

    // `pending` and `finished` are guarded by `condition`; the class is Sendable because of that lock.
    private let condition = ConditionLock(value: Signal.idle.rawValue)
    private var pending: [UnownedJob] = []
    private var finished = false

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
