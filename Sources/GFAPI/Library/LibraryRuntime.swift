import Glibc
import NIOCore
import NIOPosix

/// The threads the library runs on. They start on the first `glfs_init`, never when the library is loaded: fio
/// loads it and then forks its job processes, and threads do not survive a fork. A child that initialises a
/// volume after a fork gets threads of its own.
final class LibraryRuntime: Sendable {
    /// Event loops for brick and management connections.
    let connectionLoops: MultiThreadedEventLoopGroup
    /// Threads that run asynchronous calls and deliver their completion callbacks. They serve no connection, so a
    /// callback that makes a blocking call cannot stall the replies it waits for.
    let callbackExecutor: LoopGroupExecutor
    let processID: pid_t

    private init(processID: pid_t) {
        self.processID = processID
        connectionLoops = MultiThreadedEventLoopGroup(numberOfThreads: Self.connectionThreadCount)
        callbackExecutor = LoopGroupExecutor(MultiThreadedEventLoopGroup(numberOfThreads: Self.callbackThreadCount))
    }

    static let connectionThreadCount = min(max(System.coreCount, 1), 4)
    static let callbackThreadCount = 2

    private static let shared = ForkSafeMutex<LibraryRuntime?>(nil)
    /// Runtimes of a parent process, kept (never shut down) in a forked child: their threads do not exist there.
    private static let abandoned = ForkSafeMutex<[LibraryRuntime]>([])

    /// The runtime of this process, started on first use with every signal blocked, so the library's threads
    /// never take signals meant for the application (fio's SIGINT, tgtd's signalfd).
    static var current: LibraryRuntime {
        shared.withLock { runtime in
            let processID = getpid()
            if let existing = runtime {
                if existing.processID == processID { return existing }
                abandoned.withLock { $0.append(existing) }
            }
            let fresh = withSignalsBlocked { LibraryRuntime(processID: processID) }
            runtime = fresh
            return fresh
        }
    }

    /// Runs `body` with every signal blocked in the calling thread; threads it creates inherit that mask.
    static func withSignalsBlocked<T>(_ body: () -> T) -> T {
        var blocked = sigset_t()
        var previous = sigset_t()
        sigfillset(&blocked)
        pthread_sigmask(SIG_SETMASK, &blocked, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        return body()
    }
}

/// Runs Swift tasks on the threads of an event loop group that serves no channels.
final class LoopGroupExecutor: TaskExecutor, @unchecked Sendable {
    // The group is Sendable; the class holds nothing else.
    let group: MultiThreadedEventLoopGroup

    init(_ group: MultiThreadedEventLoopGroup) {
        self.group = group
    }

    /// Runs `work` on one of the group's threads (a callback thread), not on the caller's.
    func execute(_ work: @escaping @Sendable () -> Void) {
        group.next().execute(work)
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        group.next().execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
