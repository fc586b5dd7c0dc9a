import MortarCore

/// Polls `condition` every 10 ms until it holds, for at most `limit` (a generous bound: what is waited for happens
/// in milliseconds unless something hangs, and a hang then fails with ETIMEDOUT naming `what`). Never a fixed
/// sleep in place of the condition.
public func eventually(
    _ what: String, within limit: Duration = .seconds(30), _ condition: () -> Bool
) async throws {
    let deadline = ContinuousClock.now + limit
    while !condition() {
        guard ContinuousClock.now < deadline else {
            throw FileSystemError(.timedOut, "\(what) did not happen within \(limit)")
        }
        try await Task.sleep(for: .milliseconds(10))
    }
}
