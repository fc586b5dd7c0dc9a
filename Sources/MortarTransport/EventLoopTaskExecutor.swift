import NIOCore

/// Runs Swift tasks on one NIO event loop. A brick serves each connection's requests with this as the preferred
/// executor, so decoding a frame, dispatching it and writing the reply happen on the loop that owns the socket;
/// only the blocking file-system call leaves it (for the I/O thread pool). That saves two thread switches per
/// request compared with the cooperative pool, and nothing on this path blocks. The FUSE mount runs its request
/// tasks on the event loop of the volume's connections for the same reason.
public final class EventLoopTaskExecutor: TaskExecutor, @unchecked Sendable {
    // `EventLoop` is Sendable; the class holds nothing else.
    public let eventLoop: any EventLoop

    public init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        eventLoop.execute {
            unowned.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
