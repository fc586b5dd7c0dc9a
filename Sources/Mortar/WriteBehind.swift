import Logging
import MortarCore
import NIOCore
import Synchronization

/// Write-behind: a write through a handle opened without O_SYNC, O_DSYNC, O_DIRECT or O_APPEND is acknowledged
/// as soon as it is queued, and ``run()`` sends it while the application goes on — a queue-depth-1 writer's writes
/// travel together, up to `Limits.writeBehindFileWritesMax` per file (GlusterFS's write-behind does the same).
///
/// What an acknowledged write means then, and what keeps it safe:
/// - it is durable only after a later `fsync`/`fdatasync` on the file succeeds: synchronize waits for every write
///   of the file in flight, then asks the bricks;
/// - this process sees it at once: every operation that reads or depends on a file's bytes or attributes (read,
///   attributes, seek, truncate, allocate, locks, synchronize, flush, release, a lookup or listing that returns
///   the file) first waits for that file's writes in flight; an operation that may touch any file (a create that
///   truncates, replication's control messages) waits for all of them;
/// - overlapping writes reach the brick in the order they were made: a write overlapping one in flight waits;
/// - a write that fails after it was acknowledged is not lost silently: its error is kept for the file and
///   returned by the next write, `fsync`, flush or close of it, once (the write that gets it is not performed);
/// - memory is bounded (`Limits.writeBehind…`): a writer past its window waits for a write to land.
///
/// Write-behind is on only while ``run()`` runs (its owner's task group: the mount's, or the drop-in's thread
/// per `glfs_t`), and while the volume's `performance.write-behind` option is on. Without a sender, writes go as
/// they come.
///
/// A guard layer: its operations (``WriteBehind+Operations.swift``) each say what they wait for, so a new one
/// does not compile until someone has said how it orders after the writes in flight.
final class WriteBehind: GuardLayer {
    let next: any FileOperations
    private let logger: Logger

    private struct State {
        var window = WriteBehindWindow()
        /// The volume option; writes are accepted while it is on and a sender runs.
        var isEnabled = true
        var isRunning = false
        var isStopped = false
        /// The sender, parked until writes are queued or write-behind stops.
        var sender: CheckedContinuation<[WriteBehindWindow.Write]?, Never>?
        /// Callers waiting for a write in flight to complete (to send theirs, or to see a file settled).
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    init(next: any FileOperations, logger: Logger) {
        self.next = next
        self.logger = logger
    }

    /// Turns write-behind on or off for writes from now on (`performance.write-behind`).
    var isEnabled: Bool {
        get { state.withLock { $0.isEnabled } }
        set {
            state.withLock { state in
                state.isEnabled = newValue
                state.window.isAccepting = newValue && state.isRunning && !state.isStopped
            }
        }
    }

    /// Bytes acknowledged to the application that no brick has confirmed yet.
    var byteCount: Int { state.withLock { $0.window.byteCount } }

    /// Callers waiting for a write in flight to complete (for tests: an operation that must order after the
    /// writes is seen waiting, not only finishing late).
    var waiterCount: Int { state.withLock { $0.waiters.count } }

    // MARK: The sender

    /// Sends acknowledged writes until ``stop()`` or the calling task is cancelled; write-behind accepts writes
    /// only while this runs. Before it returns every write it accepted has landed or failed. A second call while
    /// one runs, or any call after ``stop()``, returns at once.
    func run() async {
        let starts = state.withLock { state -> Bool in
            guard !state.isRunning, !state.isStopped else { return false }
            state.isRunning = true
            state.window.isAccepting = state.isEnabled
            return true
        }
        guard starts else { return }
        await withDiscardingTaskGroup { group in
            while let writes = await nextWrites() {
                for write in writes {
                    group.addTask { await self.send(write) }
                }
            }
        }
        state.withLock { $0.isRunning = false }
    }

    /// Stops accepting writes and waits until every accepted one has landed or failed; ``run()`` then returns.
    /// Errors nobody took are logged: the volume is closing, and nobody is left to return them to.
    func stop() async {
        stopAccepting()
        await settleAll()
        for (file, error) in state.withLock({ $0.window.takeAllErrors() }) {
            logger.error(
                "a write acknowledged earlier failed and the volume closed before anyone asked",
                metadata: ["file": "\(file)", "error": "\(error)"])
        }
    }

    /// The next writes to send; nil once write-behind stops (or the sender's task is cancelled) and none is left.
    private func nextWrites() async -> [WriteBehindWindow.Write]? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let ready = state.withLock { state -> [WriteBehindWindow.Write]?? in
                    if state.window.hasQueued { return .some(state.window.takeQueued()) }
                    if Task.isCancelled {
                        state.isStopped = true
                        state.window.isAccepting = false
                    }
                    if state.isStopped { return .some(nil) }
                    state.sender = continuation
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            // Cancelled: accept nothing more; what was accepted is still sent (the loop asks until none is left).
            stopAccepting()
        }
    }

    /// Accepts no more writes, and wakes a parked sender with what is queued (nil: nothing, so it returns).
    private func stopAccepting() {
        let sender = state.withLock { state in
            state.isStopped = true
            state.window.isAccepting = false
            defer { state.sender = nil }
            return state.sender.map { ($0, state.window.hasQueued ? state.window.takeQueued() : nil) }
        }
        if let (sender, writes) = sender { sender.resume(returning: writes) }
    }

    private func send(_ write: WriteBehindWindow.Write) async {
        var failure: FileSystemError?
        do {
            let count = write.data.readableBytes
            let written = try await next.write(write.data, to: write.file, at: write.offset, context: write.context)
            if written != count {
                failure = FileSystemError(
                    .inputOutput, "a brick wrote \(written) of \(count) bytes at offset \(write.offset)")
            }
        } catch {
            failure = FileSystemError.wrapping(error)
        }
        if let failure {
            write.context.logger.warning(
                "a write acknowledged earlier failed; the file's next write, fsync or close returns the error",
                metadata: ["file": "\(write.file.id)", "offset": "\(write.offset)", "error": "\(failure)"])
        }
        let waiters = state.withLock { state in
            state.window.complete(write, error: failure)
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    // MARK: Waiting

    /// Returns once `isSettled` holds for the window: checked now, and again after each completion.
    func settle(_ isSettled: (WriteBehindWindow) -> Bool) async {
        while !state.withLock({ isSettled($0.window) }) {
            await withCheckedContinuation { continuation in
                let settled = state.withLock { state in
                    if isSettled(state.window) { return true }
                    state.waiters.append(continuation)
                    return false
                }
                if settled { continuation.resume() }
            }
        }
    }

    /// Waits until `file` has no write in flight.
    func settle(_ file: FileID) async {
        await settle { !$0.hasWrites(file) }
    }

    /// Waits until no file has a write in flight.
    func settleAll() async {
        await settle { !$0.hasWrites }
    }

    /// The error a failed write left for `file`, taken.
    func takeError(of file: FileID) -> FileSystemError? {
        state.withLock { $0.window.takeError(of: file) }
    }

    /// `attributes` again if its file had writes in flight when they were read: fetched after they landed.
    /// Whether this process has writes of `file` that no brick has answered yet.
    func hasWrites(_ file: FileID) -> Bool {
        state.withLock { $0.window.hasWrites(file) }
    }

    func current(_ attributes: FileAttributes, context: OperationContext) async throws -> FileAttributes {
        guard state.withLock({ $0.window.hasWrites(attributes.id) }) else { return attributes }
        await settle(attributes.id)
        return try await next.attributes(of: attributes.id, context: context)
    }

    /// Decides what a write does; when it must wait, answers ``WriteBehindWindow/Admission/wait`` after the next
    /// completion. The second decision is made under the lock the completion takes, so none is missed between the
    /// decision and the wait.
    func admit(_ data: ByteBuffer, to file: OpenFile, at offset: UInt64, context: OperationContext) async
        -> WriteBehindWindow.Admission
    {
        let now = state.withLock { $0.window.admit(data, to: file, at: offset, context: context) }
        guard case .wait = now else { return now }
        var decided = WriteBehindWindow.Admission.wait
        await withCheckedContinuation { continuation in
            decided = state.withLock { state in
                let decided = state.window.admit(data, to: file, at: offset, context: context)
                if case .wait = decided { state.waiters.append(continuation) }
                return decided
            }
            if case .wait = decided {} else { continuation.resume() }
        }
        return decided
    }

    /// Hands the queued writes to the sender if it is parked.
    func wakeSender() {
        let handoff = state.withLock { state -> (CheckedContinuation<[WriteBehindWindow.Write]?, Never>, [WriteBehindWindow.Write])? in
            guard let sender = state.sender, state.window.hasQueued else { return nil }
            state.sender = nil
            return (sender, state.window.takeQueued())
        }
        if let (sender, writes) = handoff { sender.resume(returning: writes) }
    }

    /// Records a handle the stack opened (only some write behind) or released.
    func noteOpened(_ file: OpenFile, flags: OpenFlags) {
        state.withLock { $0.window.opened(file, flags: flags) }
    }

    func noteReleased(_ file: OpenFile) {
        state.withLock { $0.window.released(file) }
    }
}
