import Synchronization

/// Concurrent calls for the same key share one execution: the first caller runs the work, and callers that arrive
/// while it runs wait for its outcome instead of starting their own.
///
/// This is what keeps a failover from turning into a storm. When a member of a replica set is lost with many
/// requests in flight, every one of them fails at once and asks the control plane for the newer view (and a
/// primary reports the member once per failed change). Without sharing, 64 writes in flight meant 64 management
/// connections within milliseconds, and hedged requests doubled them; the daemons, busy answering the same
/// question, then answered the questions that mattered too late.
///
/// Invariants:
/// - at most one execution per key runs at any time;
/// - every caller that joined an execution gets that execution's value or error;
/// - an execution whose caller was cancelled is not shared: its waiters start again (one of them runs the work),
///   since a cancelled request's outcome says nothing about the question;
/// - a waiter that is cancelled returns at once with `CancellationError`, and the execution goes on for the others.
public final class SingleFlight<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private enum Outcome: Sendable {
        case lead
        case done(Result<Value, any Error>)
        case leaderCancelled
        case waiterCancelled
    }

    private struct State: Sendable {
        /// Waiters of each key's running execution, by waiter number; a key is present while its work runs.
        var flights: [Key: [UInt64: CheckedContinuation<Outcome, Never>]] = [:]
        var nextWaiter: UInt64 = 0
    }

    private let state = Mutex(State())

    public init() {}

    /// Runs `work` for `key`, or waits for the execution already running for it and returns its outcome.
    public func run(_ key: Key, _ work: () async throws -> Value) async throws -> Value {
        while true {
            switch await join(key) {
            case .lead:
                let result: Result<Value, any Error>
                do {
                    result = .success(try await work())
                } catch {
                    result = .failure(error)
                }
                let shared: Outcome = Task.isCancelled ? .leaderCancelled : .done(result)
                let waiters = state.withLock { $0.flights.removeValue(forKey: key) } ?? [:]
                for waiter in waiters.values { waiter.resume(returning: shared) }
                return try result.get()
            case .done(let result):
                return try result.get()
            case .leaderCancelled:
                continue
            case .waiterCancelled:
                throw CancellationError()
            }
        }
    }

    /// How many callers wait for the execution running for `key` (none when nothing runs): for tests.
    public func waiterCount(_ key: Key) -> Int {
        state.withLock { $0.flights[key]?.count ?? 0 }
    }

    /// Becomes the leader of `key` if no execution runs for it, or waits for the running one's outcome.
    private func join(_ key: Key) async -> Outcome {
        let waiter = state.withLock { state in
            state.nextWaiter &+= 1
            return state.nextWaiter
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Outcome, Never>) in
                // Deciding and registering under one lock: a leader that finishes meanwhile either finds this
                // waiter registered or left no flight, and this caller leads the next one.
                let now: Outcome? = state.withLock { state in
                    guard var waiters = state.flights[key] else {
                        state.flights[key] = [:]
                        return .lead
                    }
                    // Cancelled before registering: the handler below found nothing to resume.
                    if Task.isCancelled { return .waiterCancelled }
                    waiters[waiter] = continuation
                    state.flights[key] = waiters
                    return nil
                }
                if let now { continuation.resume(returning: now) }
            }
        } onCancel: {
            let continuation = state.withLock { $0.flights[key]?.removeValue(forKey: waiter) }
            continuation?.resume(returning: .waiterCancelled)
        }
    }
}
