import Glibc

/// The calls in flight on one descriptor, so `glfs_close` and `glfs_fini` can wait for them: once they return, no
/// call on the descriptor is running and no completion callback will run. It also bounds what one descriptor may
/// have in flight: a submitter past ``inFlightMax`` waits for a completion.
final class Activity: @unchecked Sendable {
    static let inFlightMax = 1024

    // Guarded by `mutex`; `condition` is signalled whenever `inFlight` drops or `isClosed` is set. Both live on the
    // heap because pthread objects must not move.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var inFlight = 0
    private var isClosed = false

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    /// Starts a call; false once the descriptor is closed.
    func begin() -> Bool {
        withLock {
            while inFlight >= Self.inFlightMax && !isClosed { wait() }
            guard !isClosed else { return false }
            inFlight += 1
            return true
        }
    }

    func end() {
        withLock {
            inFlight -= 1
            pthread_cond_broadcast(condition)
        }
    }

    /// Refuses new calls and waits until at most `remaining` are still in flight (1 when the caller is itself a
    /// completion callback of this descriptor, which cannot finish before this returns).
    func close(waitingUntil remaining: Int) {
        withLock {
            isClosed = true
            pthread_cond_broadcast(condition)
            while inFlight > remaining { wait() }
        }
    }

    // Waiting here must not be a cancellation point: a thread cancelled in `pthread_cond_wait` unwinds with the
    // mutex held, and every later call on the descriptor would hang.
    private func withLock<T>(_ body: () -> T) -> T {
        var previous: Int32 = 0
        pthread_setcancelstate(Int32(PTHREAD_CANCEL_DISABLE), &previous)
        pthread_mutex_lock(mutex)
        defer {
            pthread_mutex_unlock(mutex)
            pthread_setcancelstate(previous, nil)
        }
        return body()
    }

    private func wait() {
        pthread_cond_wait(condition, mutex)
    }
}
