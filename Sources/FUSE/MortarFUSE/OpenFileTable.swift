import Glibc
import Mortar
import MortarCore

/// What the kernel's file handle (`fi->fh`) on this mount stands for.
struct OpenHandle: Sendable {
    var file: OpenFile
    var flags: OpenFlags
    /// The file's first bytes, fetched with the open, that answer the kernel's first reads (small files only).
    var head: FileHead?

    init(file: OpenFile, flags: OpenFlags, head: FileHead? = nil) {
        self.file = file
        self.flags = flags
        self.head = head
    }
}

/// Open files on this mount, by the handle number the kernel echoes back in every request.
///
/// One more duty: byte-range locks. A brick drops every lock its client connection holds on a file when that
/// connection releases any open of the file (right for one process per connection, as with the library). Here
/// every process on the mount shares one connection, so releasing one process's open would drop the others'
/// locks. Once a file has been locked through the mount, the table therefore keeps its releases back until no
/// handle of the file is left open, when no process can hold a lock on it any more; closing a descriptor still
/// drops that process's own locks at once (the mount unlocks the owner on `flush`).
struct OpenFileTable: Sendable {
    private var handles: [UInt64: OpenHandle] = [:]
    private var openCounts: [FileID: Int] = [:]
    private var locked: Set<FileID> = []
    private var heldBack: [FileID: [OpenFile]] = [:]
    private var nextHandle: UInt64 = 1
    let capacity: Int

    init(capacity: Int = Limits.mountOpenHandlesMax) {
        self.capacity = capacity
    }

    var count: Int { handles.count }

    mutating func add(_ handle: OpenHandle) throws -> UInt64 {
        guard handles.count < capacity else {
            throw FileSystemError(.tooManyOpenFiles, "the mount has \(capacity) files open already")
        }
        let number = nextHandle
        nextHandle += 1
        handles[number] = handle
        openCounts[handle.file.id, default: 0] += 1
        return number
    }

    func handle(_ number: UInt64) throws -> OpenHandle {
        guard let handle = handles[number] else {
            throw FileSystemError(.badFileHandle, "no open file with handle \(number) on this mount")
        }
        return handle
    }

    /// Any open handle of `id`: attributes of a file that was unlinked while open can only be read through one.
    func anyOpenFile(of id: FileID) -> OpenFile? {
        guard openCounts[id] != nil else { return nil }
        return handles.values.first { $0.file.id == id }?.file
    }

    /// Notes that a lock was taken on `id`, so releases are held back from now on.
    mutating func noteLocked(_ id: FileID) {
        if openCounts[id] != nil { locked.insert(id) }
    }

    /// Whether a lock was ever taken on `id` while it has been open here.
    func isLocked(_ id: FileID) -> Bool {
        locked.contains(id)
    }

    /// Removes a handle and returns the opens to release on the bricks now (none while others must wait).
    mutating func remove(_ number: UInt64) -> [OpenFile] {
        guard let handle = handles.removeValue(forKey: number) else { return [] }
        let id = handle.file.id
        let remaining = openCounts[id, default: 1] - 1
        if remaining > 0 {
            openCounts[id] = remaining
            guard locked.contains(id) else { return [handle.file] }
            heldBack[id, default: []].append(handle.file)
            return []
        }
        openCounts[id] = nil
        locked.remove(id)
        return (heldBack.removeValue(forKey: id) ?? []) + [handle.file]
    }

    /// Every open, for the final release when the mount ends.
    mutating func removeAll() -> [OpenFile] {
        let all = handles.values.map(\.file) + heldBack.values.flatMap { $0 }
        self = OpenFileTable(capacity: capacity)
        return all
    }
}
