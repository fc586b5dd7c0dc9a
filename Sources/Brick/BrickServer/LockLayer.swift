import Logging
import MortarCore
import NIOCore
import Synchronization

/// The brick-side layer that implements POSIX byte-range locks for every client of the brick. Locks live in
/// memory (as in GlusterFS's locks translator): they are released when their connection goes away, which is what
/// a client that crashed needs, and a restarted brick starts with none.
public final class LockLayer: GuardLayer {
    public let next: any FileOperations

    private struct Waiter {
        var id: UInt64
        var file: FileID
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var table = LockTable()
        var waiters: [Waiter] = []
        var nextWaiterID: UInt64 = 0
    }

    private let state = Mutex(State())

    public init(next: any FileOperations) {
        self.next = next
    }

    public func lock(_ file: OpenFile, _ request: LockRequest, wait: Bool, context: OperationContext) async throws {
        let holder = LockTable.Holder(connectionID: context.connectionID, owner: request.owner)
        while true {
            let outcome = try state.withLock { state -> Bool in
                guard state.table.conflict(with: request, on: file.id, holder: holder) == nil else { return false }
                try state.table.apply(request, on: file.id, holder: holder)
                return true
            }
            if outcome {
                if request.kind == .unlock { wakeWaiters(on: [file.id]) }
                return
            }
            guard wait else { throw FileSystemError(.wouldBlock, "range is locked by another owner") }
            try await waitForChange(on: file.id)
        }
    }

    public func testLock(_ file: OpenFile, _ request: LockRequest, context: OperationContext) async throws
        -> LockRequest?
    {
        let holder = LockTable.Holder(connectionID: context.connectionID, owner: request.owner)
        guard let held = state.withLock({ $0.table.conflict(with: request, on: file.id, holder: holder) }) else {
            return nil
        }
        let length = held.end == UInt64.max ? 0 : held.end - held.start + 1
        return LockRequest(
            kind: held.isWrite ? .write : .read, start: held.start, length: length, owner: held.holder.owner,
            processID: held.processID)
    }

    public func release(_ file: OpenFile, context: OperationContext) async throws {
        let changed = state.withLock { $0.table.removeAll(connectionID: context.connectionID, file: file.id) }
        wakeWaiters(on: changed)
        try await next.release(file, context: context)
    }

    /// Drops every lock of a connection that went away and lets waiters retry.
    public func releaseLocks(ofConnection connectionID: UInt64) {
        let changed = state.withLock { $0.table.removeAll(connectionID: connectionID) }
        wakeWaiters(on: changed)
    }

    /// Locks held right now, for tests.
    public var lockCount: Int { state.withLock { $0.table.count } }

    private func waitForChange(on file: FileID) async throws {
        let id = state.withLock { state -> UInt64 in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let admitted = state.withLock { state -> Bool in
                    guard state.waiters.count < Limits.lockWaitersPerBrickMax else { return false }
                    state.waiters.append(Waiter(id: id, file: file, continuation: continuation))
                    return true
                }
                if !admitted {
                    continuation.resume(
                        throwing: FileSystemError(.noLocks, "too many clients wait for locks on this brick"))
                } else if Task.isCancelled {
                    cancelWaiter(id)
                }
            }
        } onCancel: {
            cancelWaiter(id)
        }
    }

    private func cancelWaiter(_ id: UInt64) {
        let waiter = state.withLock { state -> Waiter? in
            guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            return state.waiters.remove(at: index)
        }
        waiter?.continuation.resume(throwing: FileSystemError(.interrupted, "lock wait was interrupted"))
    }

    private func wakeWaiters(on files: [FileID]) {
        guard !files.isEmpty else { return }
        let woken = state.withLock { state -> [Waiter] in
            let wake = state.waiters.filter { files.contains($0.file) }
            state.waiters.removeAll { files.contains($0.file) }
            return wake
        }
        for waiter in woken { waiter.continuation.resume() }
    }
}
