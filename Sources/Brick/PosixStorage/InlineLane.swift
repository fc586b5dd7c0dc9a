import Logging
import MortarCore
import NIOCore
import Synchronization

/// Work the calling thread — the brick's event loop, which read the request — does itself instead of handing it
/// to the I/O pool and back: two thread switches, each usually the wake-up of an idle CPU, which on a virtual
/// machine costs more than the work. Only work that normally ends in microseconds goes inline (small buffered
/// writes, metadata the kernel's caches answer), and every piece is timed: one that took longer than the lane's
/// threshold (the disk was needed — dirty-page throttling, a cold inode, a failing disk) sends the lane's work to
/// the pool for `Limits.brickInlinePauseMilliseconds`, and says so once. The loop serves every connection of the
/// brick and must not wait on the disk for long.
///
/// Invariant: while `pausedUntil` is in the future, ``start()`` answers nil and nothing of this lane runs inline.
final class InlineLane: Sendable {
    /// What the lane carries, for the log line ("writes", "metadata requests").
    let name: String
    let slowNanoseconds: UInt64
    /// Until when (NIODeadline uptime, ns) the lane's work goes through the pool; 0: it may run inline.
    private let pausedUntil = Atomic<UInt64>(0)
    private let inlineCount = Atomic<UInt64>(0)

    init(name: String, slowMicroseconds: Int64) {
        self.name = name
        self.slowNanoseconds = UInt64(max(0, slowMicroseconds)) * 1_000
    }

    /// Pieces of work done on the calling thread since the brick started.
    var count: UInt64 { inlineCount.load(ordering: .relaxed) }

    /// The time a piece of work starts inline, or nil when the lane is paused (it goes to the pool).
    func start() -> UInt64? {
        let now = NIODeadline.now().uptimeNanoseconds
        guard now >= pausedUntil.load(ordering: .relaxed) else { return nil }
        return now
    }

    /// Counts a piece of work done inline; one that was slow pauses the lane (said once per pause).
    func ended(_ started: UInt64, logger: Logger, subject: @autoclosure () -> String) {
        inlineCount.add(1, ordering: .relaxed)
        let now = NIODeadline.now().uptimeNanoseconds
        let elapsed = now &- started
        guard elapsed > slowNanoseconds else { return }
        let until = now + UInt64(Limits.brickInlinePauseMilliseconds) * 1_000_000
        let previous = pausedUntil.exchange(until, ordering: .relaxed)
        guard previous <= started else { return }
        logger.notice(
            "\(name) on the event loop took \(elapsed / 1_000) µs (\(subject())); they go through the I/O pool for \(Limits.brickInlinePauseMilliseconds) ms")
    }
}

extension PosixStorage {
    /// Runs `body` on the calling thread unless `lane` is paused, when it goes to the I/O pool (``run(_:)``);
    /// any error becomes a ``FileSystemError`` either way.
    /// A nil `lane` always goes to the pool.
    func run<Result: Sendable>(
        inline lane: InlineLane?, _ subject: @autoclosure () -> String, _ body: @escaping @Sendable () throws -> Result
    ) async throws -> Result {
        try await run(inline: lane, subject()) { _ in try body() }
    }

    /// The same, telling `body` whether it runs inline (and so must not wait for the disk for what it can leave
    /// to a later trip to the pool).
    func run<Result: Sendable>(
        inline lane: InlineLane?, _ subject: @autoclosure () -> String,
        _ body: @escaping @Sendable (_ isInline: Bool) throws -> Result
    ) async throws -> Result {
        guard let lane, let started = lane.start() else { return try await run { try body(false) } }
        defer { lane.ended(started, logger: logger, subject: subject()) }
        do {
            return try body(true)
        } catch {
            throw FileSystemError.wrapping(error)
        }
    }
}
