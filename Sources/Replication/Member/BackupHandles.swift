import MortarCore
import Synchronization

/// The files a primary holds open on the other members, so forwarded writes need no open of their own: opened
/// when first needed, shared by every open of the file on the primary, released when the primary's last open of
/// the file is released.
final class BackupHandles: Sendable {
    private struct State {
        /// Opens of each file on this member (through clients), which keep its backup handles.
        var localOpens: [FileID: Int] = [:]
        /// The handles of those opens (a backup's own handles, opened by a primary, are not among them).
        var clientHandles: Set<UInt64> = []
        var handles: [Key: Slot] = [:]
        /// Callers waiting for the open that `opening(token)` stands for. An entry exists from the start of that
        /// open to its end, even if the slot is dropped meanwhile, so a waiter is never stranded.
        var waiters: [UInt64: [CheckedContinuation<OpenFile, any Error>]] = [:]
        var nextToken: UInt64 = 0
    }

    /// A backup handle, or an open of one under way in the task of the change that first needed it.
    private enum Slot {
        case opening(token: UInt64)
        case open(OpenFile)
    }

    private struct Key: Hashable {
        var member: Int
        var file: FileID
    }

    /// The open a waiter joined ended before it could wait for it: look again.
    private struct LookAgain: Error {}

    private let state = Mutex(State())

    func opened(_ file: FileID, handle: UInt64) {
        state.withLock { state in
            state.localOpens[file, default: 0] += 1
            state.clientHandles.insert(handle)
        }
    }

    /// Whether `handle` was a client's open (and forgets it).
    func forgetClientHandle(_ handle: UInt64) -> Bool {
        state.withLock { $0.clientHandles.remove(handle) != nil }
    }

    /// Records a release of `file` on this member; returns the backup handles to release if it was the last. An
    /// open still under way is dropped without its handle: that handle is only leaked if a change of the file is
    /// still being forwarded after the file's last release, and the member's connection releases it in the end.
    func released(_ file: FileID) -> [(member: Int, file: OpenFile)] {
        state.withLock { state in
            let remaining = (state.localOpens[file] ?? 1) - 1
            guard remaining <= 0 else {
                state.localOpens[file] = remaining
                return []
            }
            state.localOpens[file] = nil
            let keys = state.handles.keys.filter { $0.file == file }
            return keys.compactMap { key in
                guard case .open(let handle) = state.handles.removeValue(forKey: key) else { return nil }
                return (key.member, handle)
            }
        }
    }

    /// The handle of `file` on `member`, opening it with `open` the first time. Concurrent callers share one open:
    /// the first runs it in its own task, the others wait for its result (no task outlives the callers).
    func handle(
        of file: FileID, on member: Int, open: @Sendable () async throws -> OpenFile
    ) async throws -> OpenFile {
        let key = Key(member: member, file: file)
        while true {
            enum Step { case ready(OpenFile), open(UInt64), wait(UInt64) }
            let step = state.withLock { state -> Step in
                switch state.handles[key] {
                case .open(let handle): return .ready(handle)
                case .opening(let token): return .wait(token)
                case nil:
                    state.nextToken += 1
                    state.handles[key] = .opening(token: state.nextToken)
                    state.waiters[state.nextToken] = []
                    return .open(state.nextToken)
                }
            }
            switch step {
            case .ready(let handle):
                return handle
            case .open(let token):
                return try await runOpen(key, token: token, with: open)
            case .wait(let token):
                do {
                    return try await withCheckedThrowingContinuation { waiter in
                        let joined = state.withLock { state -> Bool in
                            guard state.waiters[token] != nil else { return false }
                            state.waiters[token]?.append(waiter)
                            return true
                        }
                        if !joined { waiter.resume(throwing: LookAgain()) }
                    }
                } catch is LookAgain {
                    continue
                }
            }
        }
    }

    private func runOpen(
        _ key: Key, token: UInt64, with open: @Sendable () async throws -> OpenFile
    ) async throws -> OpenFile {
        let result: Result<OpenFile, any Error>
        do { result = .success(try await open()) } catch { result = .failure(error) }
        let waiters = state.withLock { state in
            if case .opening(token) = state.handles[key] {
                switch result {
                case .success(let handle): state.handles[key] = .open(handle)
                // A failed open is forgotten so the next change tries again (the member may be back).
                case .failure: state.handles[key] = nil
                }
            }
            return state.waiters.removeValue(forKey: token) ?? []
        }
        for waiter in waiters { waiter.resume(with: result) }
        return try result.get()
    }

    /// Adopts a handle a forwarded create returned; false if one is held already (release the new one).
    func adopt(_ handle: OpenFile, of file: FileID, on member: Int) -> Bool {
        state.withLock { state in
            let key = Key(member: member, file: file)
            guard state.handles[key] == nil else { return false }
            state.handles[key] = .open(handle)
            return true
        }
    }

    /// Forgets every handle on `member` (it left the set, or its connection was lost: its handles are gone).
    func forget(member: Int) {
        state.withLock { state in
            for key in state.handles.keys where key.member == member { state.handles[key] = nil }
        }
    }
}
