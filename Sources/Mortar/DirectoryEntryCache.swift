import MortarCore
import NIOCore

/// The directories a path walk passed through recently, so that `/a/b/c` does not cost a lookup of `a` and of
/// `b` on every call: a small-file workload on a deep tree otherwise pays two or three round trips per file for
/// names that did not change. GlusterFS's client keeps an inode table and the kernel a dentry cache for the same
/// reason; like the kernel's (FUSE `entry_timeout`), an entry here lives for a bounded time.
///
/// Only directories passed *through* are cached — the last component of a path is always looked up, so `stat`
/// and `open` see current attributes. Entries are per identity: the brick checks search permission on every
/// lookup, and a walk must not reuse a lookup that another identity was allowed to make.
///
/// What this trades: for up to ``lifetime``, a directory renamed or removed by *another* client can still be
/// walked through by its old path (its FileID stays valid, so operations reach the directory itself, or fail with
/// ENOENT once it is gone) — the same window the kernel's entry cache gives a FUSE mount. A walk that finds a
/// directory on the way missing under a remembered one starts over with fresh lookups. This client's own
/// renames, removals and permission changes empty the cache.
struct DirectoryEntryCache {
    struct Key: Hashable {
        var parent: FileID
        var name: String
        var credentials: Volume.Credentials
    }

    private struct Entry {
        var id: FileID
        var expires: NIODeadline
    }

    let lifetime: TimeAmount
    let capacity: Int
    private var entries: [Key: Entry] = [:]

    init(lifetime: TimeAmount, capacity: Int) {
        self.lifetime = lifetime
        self.capacity = capacity
    }

    var count: Int { entries.count }

    /// The directory `key` named when it was cached, if that was less than ``lifetime`` ago.
    mutating func directory(_ key: Key, now: NIODeadline) -> FileID? {
        guard let entry = entries[key] else { return nil }
        guard entry.expires > now else {
            entries[key] = nil
            return nil
        }
        return entry.id
    }

    /// Remembers that `key` names the directory `id`. At capacity the cache starts over: cheaper than tracking
    /// age order, and a refill costs one lookup per directory still in use.
    mutating func remember(_ key: Key, directory id: FileID, now: NIODeadline) {
        guard lifetime > .zero, capacity > 0 else { return }
        if entries.count >= capacity, entries[key] == nil { entries.removeAll(keepingCapacity: true) }
        entries[key] = Entry(id: id, expires: now + lifetime)
    }

    mutating func removeAll() {
        entries.removeAll(keepingCapacity: true)
    }
}
