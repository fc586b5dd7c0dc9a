import Foundation

/// Runs blocking work — waiting for a child process, reading a pipe to its end — on a thread of its own, and
/// suspends the caller until it is done.
///
/// Swift Testing runs tests on the cooperative pool, which has one thread per core (two on the CI machine). A test
/// that waits for a process on a pool thread takes that thread from every other test for as long as the process
/// runs, and a test with a real-time deadline in it (a brick's hello deadline, a fixed-length race) then starves
/// and fails for a reason that has nothing to do with what it tests. Work handed to this function waits on its own
/// thread instead; the pool thread is free while it runs.
public func runBlocking<Result: Sendable>(_ work: @escaping @Sendable () throws -> Result) async throws -> Result {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Result, any Error>) in
        let thread = Thread {
            continuation.resume(with: Swift.Result { try work() })
        }
        thread.name = "blocking test work"
        thread.start()
    }
}
