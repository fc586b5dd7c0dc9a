import Glibc
import MortarCore
import NIOConcurrencyHelpers

/// A thread that a fork copied into a child process after it had used the library — the thread that called
/// `fork()`, in a program that used the library before forking its workers (fio's jobs, `tests/gfapi/init-loop.c`).
///
/// Such a thread must not run the library's code: Synchronization's `Mutex` writes its owner's thread id into the
/// lock word and caches that id per thread, and the copy's cache still holds its parent's id. As soon as another
/// thread waits for a lock the copy holds, the kernel refuses the wait or the unlock and the process dies ("Call to
/// unlock Mutex on a thread which hasn't acquired the lock"). ``Blocking/run(_:)`` runs such a thread's calls on a
/// fresh thread instead (one per call: a fork copy is rare, and correct beats fast there).
enum ForkedThread {
    /// The process each thread first entered the library in (its pid as the key's value; nil before).
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        // Without a key every thread counts as a first entry: the check then costs nothing and protects nothing.
        _ = pthread_key_create(&key, nil)
        return key
    }()

    /// Whether the calling thread entered the library in another process (a parent that forked this one).
    static var isCopy: Bool {
        let processID = Int(getpid())
        if let recorded = pthread_getspecific(key) { return Int(bitPattern: recorded) != processID }
        _ = pthread_setspecific(key, UnsafeRawPointer(bitPattern: processID))
        return false
    }

    /// Runs `body` on a new thread, whose cached thread id is its own, and waits for it.
    static func onFreshThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) throws -> T {
        let outcome = NIOLockedValueBox<Result<T, any Error>?>(nil)
        let job = Job { outcome.withLockedValue { $0 = Result { try body() } } }
        let unmanaged = Unmanaged.passRetained(job)
        var thread = pthread_t()
        let created = pthread_create(&thread, nil, { raw in
            guard let raw else { return nil }
            Unmanaged<Job>.fromOpaque(raw).takeRetainedValue().run()
            return nil
        }, unmanaged.toOpaque())
        guard created == 0 else {
            unmanaged.release()
            throw FileSystemError.fromErrno("pthread_create", "a thread for a call from a forked copy", errno: created)
        }
        pthread_join(thread, nil)
        guard let result = outcome.withLockedValue({ $0 }) else {
            throw FileSystemError(.inputOutput, "a call from a forked copy of a thread finished without a result")
        }
        return try result.get()
    }

    private final class Job: Sendable {
        let run: @Sendable () -> Void

        init(_ run: @escaping @Sendable () -> Void) {
            self.run = run
        }
    }
}
