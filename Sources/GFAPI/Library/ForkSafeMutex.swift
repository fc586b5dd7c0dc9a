import NIOConcurrencyHelpers

/// The lock of the state the application's own threads touch (handles, instances, directory streams, logs): a
/// glibc mutex, not Synchronization's `Mutex`.
///
/// Synchronization's `Mutex` writes its owner's thread id into the lock word, and caches that id per thread. A
/// child forked from a thread that used it (fio forks its jobs; `tests/gfapi/init-loop.c` every tenth cycle)
/// inherits the parent's id in that cache, so its thread locks with an id that is not its own. As soon as a library
/// thread waits on such a lock, the kernel refuses it ("Unknown error occurred while attempting to acquire a
/// Mutex") or refuses the unlock ("Call to unlock Mutex on a thread which hasn't acquired the lock"), and the child
/// dies — once in a CI run of 1,000 cycles. glibc takes the thread id afresh after a fork.
final class ForkSafeMutex<Value>: @unchecked Sendable {
    // Every access to the value is under the box's lock.
    private let box: NIOLockedValueBox<Value>

    init(_ value: Value) {
        box = NIOLockedValueBox(value)
    }

    func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        try box.withLockedValue(body)
    }
}
