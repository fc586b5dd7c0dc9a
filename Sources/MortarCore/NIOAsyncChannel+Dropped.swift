import NIOCore

extension NIOAsyncChannel {
    /// Wraps `channel` like `init(wrappingChannelSynchronously:)` (on the channel's event loop, in a channel
    /// initializer), except that a wrapper dropped before anyone ran `executeThenClose` on it finishes its writer
    /// instead of stopping the process. The connection itself is not closed by the drop: NIO drops wrappers only
    /// when a listener closes (the process is stopping) or a connect failed (the channel is closed already).
    ///
    /// A channel initializer's wrapper can be dropped by NIO itself, with nothing this code could do about it:
    /// - a server's accepted connection whose initializer finishes while the listener closes (a daemon's SIGTERM
    ///   during a burst of connections) or after the accept loop ended, never reaches the loop that would serve
    ///   it;
    /// - a client's connection that fails after its initializer ran (the connect timed out, or was cancelled)
    ///   is discarded with the wrapper still holding an open writer.
    ///
    /// The non-deprecated initializer traps on such a drop ("Deinited NIOAsyncWriter without calling finish()"; NIO
    /// issues 2612 and 2637 describe the window): a daemon stopped by SIGTERM during a burst of connections
    /// crashed that way in a failover test. NIO deprecates this initializer because teardown on deinit is
    /// implicit; for a connection nobody will serve, it is the teardown wanted. Every wrapper that is served still
    /// goes through `executeThenClose`.
    public static func finishingWhenDropped(_ channel: any Channel) throws -> NIOAsyncChannel {
        try NIOAsyncChannel(synchronouslyWrapping: channel)
    }
}
