import Glibc
import MortarCore
import Synchronization

/// Open descriptors of the directories a brick located most recently, by FileID, so that the next request in
/// the same directory skips the walk that finds it (a `readlink` per level of its index chain, an `openat2` of its
/// path, the FileID check): the walk was most of a cached lookup's work on the brick, and on a cold cache each of
/// its steps waits for the disk.
///
/// Invariants:
/// - A descriptor here was opened by ``HandleIndex`` for exactly this FileID, beneath the brick root, and checked
///   to carry it. A directory descriptor follows its directory across renames, so it stays right when the
///   directory moves; a directory that was removed (its link count is 0) is dropped on its next use, and the
///   index's walk then answers as it would have.
/// - Callers get a duplicate (`dup`), which they own and close; the cache's own descriptors are duplicated only
///   under the lock and closed only once they have left the table, so a duplicate is never made of a closed (or
///   reused) number.
/// - At most `capacity` descriptors are held (the brick's `DescriptorBudget.directoriesCachedMax`); the least
///   recently used goes first.
///
/// The one thing the cache cannot see is a directory moved out of the brick by hand (root on the server, outside
/// Mortar); until it is evicted, requests for that FileID reach it where it went.
final class DirectoryDescriptorCache: Sendable {
    private struct Entry {
        var descriptor: Int32
        var subject: String
        var lastUse: UInt64
    }

    private struct State {
        var entries: [FileID: Entry] = [:]
        var uses: UInt64 = 0
        var isClosed = false
    }

    let capacity: Int
    private let state = Mutex(State())

    init(capacity: Int = Limits.directoryDescriptorsCachedMax) {
        self.capacity = capacity
    }

    /// How many descriptors are held.
    var count: Int { state.withLock { $0.entries.count } }

    /// A duplicate of the cached descriptor of directory `id`, with the path it was found at, or nil when none is
    /// cached, the directory was removed since, or the duplicate could not be made (the caller walks the index).
    func descriptor(of id: FileID) -> (descriptor: Int32, subject: String)? {
        state.withLock { state in
            guard var entry = state.entries[id] else { return nil }
            var status = stat()
            guard fstat(entry.descriptor, &status) == 0, status.st_nlink > 0 else {
                SystemCall.close(entry.descriptor)
                state.entries[id] = nil
                return nil
            }
            let duplicate = fcntl(entry.descriptor, F_DUPFD_CLOEXEC, 0)
            guard duplicate >= 0 else { return nil }
            state.uses += 1
            entry.lastUse = state.uses
            state.entries[id] = entry
            return (duplicate, entry.subject)
        }
    }

    /// Keeps a duplicate of `descriptor`, just opened and checked for directory `id`; the caller keeps its own.
    /// Nothing is kept when no duplicate can be made (out of descriptors): the cache only saves work.
    func keep(_ descriptor: Int32, of id: FileID, subject: String) {
        let duplicate = fcntl(descriptor, F_DUPFD_CLOEXEC, 0)
        guard duplicate >= 0 else { return }
        let replaced: Int32? = state.withLock { state in
            guard !state.isClosed, capacity > 0 else { return duplicate }
            state.uses += 1
            var evicted: Int32?
            if state.entries[id] == nil, state.entries.count >= capacity,
                let oldest = state.entries.min(by: { $0.value.lastUse < $1.value.lastUse })
            {
                evicted = oldest.value.descriptor
                state.entries[oldest.key] = nil
            }
            let previous = state.entries.updateValue(
                Entry(descriptor: duplicate, subject: subject, lastUse: state.uses), forKey: id)
            if let previous { SystemCall.close(previous.descriptor) }
            return evicted
        }
        if let replaced { SystemCall.close(replaced) }
    }

    /// Forgets directory `id` (it was removed or replaced through this brick).
    func remove(_ id: FileID) {
        state.withLock { state in
            if let entry = state.entries.removeValue(forKey: id) { SystemCall.close(entry.descriptor) }
        }
    }

    /// Closes every descriptor; nothing is kept afterwards.
    func close() {
        state.withLock { state in
            for entry in state.entries.values { SystemCall.close(entry.descriptor) }
            state.entries.removeAll()
            state.isClosed = true
        }
    }
}
