/// Runs `body` and gives up after `limit`: the body is cancelled, awaited (structured: it never outlives the
/// call), and the call throws ETIMEDOUT saying `what` did not finish. For bodies that honour cancellation — a
/// connection's request, a sleep — so that "gives up" also means "returns".
public func withDeadline<Result: Sendable>(
    _ limit: Duration, _ what: @autoclosure () -> String, _ body: @escaping @Sendable () async throws -> Result
) async throws -> Result {
    let description = what()
    return try await withThrowingTaskGroup(of: Result?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let result = first else {
            throw FileSystemError(.timedOut, "\(description) did not finish within \(limit)")
        }
        return result
    }
}
