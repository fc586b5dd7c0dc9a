import Dispatch
import MortarCore
import Synchronization

/// The blocking form of the client library, for threads that cannot `await`: C callers through the libgfapi
/// drop-in, FUSE worker threads, plain POSIX threads.
///
/// `Blocking.run` starts the async call on Swift's concurrency runtime and parks the calling thread until it
/// finishes. It must never be called from a task on the cooperative pool (that would tie up a pool thread while it
/// waits on work that needs a pool thread); it is meant for threads the application or a C library created.
public enum Blocking {
    public static func run<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
        let outcome = Mutex<Result<T, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        // The one unstructured task in the library: the bridge from a thread that cannot await into async code.
        // The calling thread waits for it, so it never outlives the call.
        Task {
            let result: Result<T, any Error>
            do { result = .success(try await body()) } catch { result = .failure(error) }
            outcome.withLock { $0 = result }
            done.signal()
        }
        done.wait()
        guard let result = outcome.withLock({ $0 }) else {
            preconditionFailure("blocking call finished without a result")
        }
        return try result.get()
    }
}
