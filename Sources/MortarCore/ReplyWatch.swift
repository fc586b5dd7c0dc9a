/// What a caller does about a reply that is slow to come, carried in ``OperationContext/replyWatch`` down to the
/// connection that sends the request. Once the call has waited `grace`, the connection runs `check`, and again
/// every `Limits.replyWatchRecheckMilliseconds` while the reply is still missing: an error it returns abandons the
/// call (the caller gets that error at once, and a reply that comes later is dropped); nil keeps waiting.
///
/// Replication uses it for a member that stops answering: the request would wait out its timeout, unless a newer
/// view that takes the member off the request's path ends it sooner. A watch costs the call nothing until the
/// grace is over — the connection's one timer notices slow calls for all of them — where a timer or a watching
/// task of its own per request cost a replicated request more than the request itself. The check runs in the
/// caller's task: a reply that arrives while it runs is taken when it returns, so a check should be one quick
/// question (replication's asks the manager once).
public struct ReplyWatch: Sendable {
    public let grace: Duration
    public let check: @Sendable () async -> FileSystemError?

    public init(grace: Duration, check: @escaping @Sendable () async -> FileSystemError?) {
        self.grace = grace
        self.check = check
    }
}
