import NIOCore

/// Runs the mount's request tasks on a NIO event loop rather than Swift's cooperative pool.
///
/// A request's path is: a libfuse thread decodes it, the task sends it on a brick connection (a NIO channel),
/// the reply arrives on that channel's event loop, and the task answers the kernel. On the cooperative pool that
/// is three wake-ups of other threads per request; on an event loop that owns the brick connection it is one, which
/// is most of the mount's added latency for small I/O on this kind of machine. Nothing on the path blocks.
final class EventLoopExecutor: TaskExecutor, @unchecked Sendable {
    // An `EventLoop` is Sendable; the class holds nothing else.
    let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        eventLoop.execute {
            unowned.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
