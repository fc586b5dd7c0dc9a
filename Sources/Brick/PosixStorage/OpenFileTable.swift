import Glibc
import MortarCore

/// A file descriptor owned by the storage. It is closed when the last reference goes, so a read that is still
/// running on another thread when the file is released keeps using the right file rather than a reused number.
final class OwnedDescriptor: Sendable {
    let value: Int32
    /// The file it was opened for, so that a handle presented with another FileID is refused.
    let id: FileID
    /// Whether its writes wait for the disk (opened O_SYNC, O_DSYNC or O_DIRECT), read once when it is registered:
    /// such writes are never made on the calling thread (see `PosixStorage.write`). The brick never changes a
    /// descriptor's flags afterwards; one it cannot read counts as waiting.
    let writesWaitForDisk: Bool
    init(_ value: Int32, id: FileID) {
        self.value = value
        self.id = id
        let status = fcntl(value, F_GETFL)
        writesWaitForDisk =
            status < 0 || !OpenFlags(posixFlags: status).isDisjoint(with: [.direct, .synchronous, .dataSynchronous])
    }

    deinit { SystemCall.close(value) }
}

/// The brick's open files: handle → descriptor, handles from a counter, bounded in size. A plain value; the
/// storage keeps it behind a mutex.
struct OpenFileTable: Sendable {
    let capacity: Int
    private var nextHandle: UInt64 = 1
    private var descriptors: [UInt64: OwnedDescriptor] = [:]

    init(capacity: Int) {
        precondition(capacity > 0, "open file table needs room for at least one file")
        self.capacity = capacity
    }

    var count: Int { descriptors.count }

    /// Stores a descriptor and returns its new handle, or nil when the table is full.
    mutating func insert(_ descriptor: OwnedDescriptor) -> UInt64? {
        guard descriptors.count < capacity else { return nil }
        let handle = nextHandle
        nextHandle += 1
        descriptors[handle] = descriptor
        return handle
    }

    func descriptor(for handle: UInt64) -> OwnedDescriptor? { descriptors[handle] }

    mutating func remove(_ handle: UInt64) -> OwnedDescriptor? { descriptors.removeValue(forKey: handle) }
}
