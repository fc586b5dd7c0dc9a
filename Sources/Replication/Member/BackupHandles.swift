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
        var handles: [Key: Task<OpenFile, any Error>] = [:]
    }

    private struct Key: Hashable {
        var member: Int
        var file: FileID
    }

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

    /// Records a release of `file` on this member; returns the backup handles to release if it was the last.
    func released(_ file: FileID) -> [(member: Int, file: Task<OpenFile, any Error>)] {
        state.withLock { state in
            let remaining = (state.localOpens[file] ?? 1) - 1
            guard remaining <= 0 else {
                state.localOpens[file] = remaining
                return []
            }
            state.localOpens[file] = nil
            let keys = state.handles.keys.filter { $0.file == file }
            return keys.compactMap { key in state.handles.removeValue(forKey: key).map { (key.member, $0) } }
        }
    }

    /// The handle of `file` on `member`, opening it with `open` the first time (concurrent callers share one open).
    func handle(
        of file: FileID, on member: Int, open: @escaping @Sendable () async throws -> OpenFile
    ) async throws -> OpenFile {
        let key = Key(member: member, file: file)
        let task = state.withLock { state in
            if let existing = state.handles[key] { return existing }
            let task = Task { try await open() }
            state.handles[key] = task
            return task
        }
        do {
            return try await task.value
        } catch {
            state.withLock { state in
                // A failed open is forgotten so the next change tries again (the member may be back).
                if state.handles[key].map({ $0 == task }) ?? false { state.handles[key] = nil }
            }
            throw error
        }
    }

    /// Adopts a handle a forwarded create returned; false if one is held already (release the new one).
    func adopt(_ handle: OpenFile, of file: FileID, on member: Int) -> Bool {
        state.withLock { state in
            let key = Key(member: member, file: file)
            guard state.handles[key] == nil else { return false }
            state.handles[key] = Task { handle }
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
