import MortarCore
import NIOCore

/// Write-behind's bookkeeping for one volume, pure: which writes have been acknowledged to the application but
/// not yet by a brick, and what each new write must do. ``WriteBehind`` (the guard layer) holds it under a lock,
/// sends what it queues and reports what comes back.
///
/// Invariants (checked by ``checkInvariants()`` in the seeded simulation):
/// - the writes in flight for one file never overlap one another, so the order they reach a brick in cannot
///   change what the file reads as: an overlapping write waits until the earlier one has landed;
/// - `byteCount` is the sum of every write in flight, within `Limits.writeBehindVolumeByteCountMax`, and each
///   file's within `Limits.writeBehindFileByteCountMax` and `Limits.writeBehindFileWritesMax` writes;
/// - ``Admission/wait`` is only answered while something is in flight, so a completion always ends the wait;
/// - a failed write's error is kept for its file until one write, synchronize, flush or release takes it, and is
///   taken once.
struct WriteBehindWindow {
    /// A write acknowledged before a brick had it.
    struct Write: Sendable {
        let id: UInt64
        let file: OpenFile
        let offset: UInt64
        let data: ByteBuffer
        let context: OperationContext

        var end: UInt64 { offset + UInt64(data.readableBytes) }
    }

    /// What a new write does.
    enum Admission {
        /// Acknowledged now: the write is queued for the sender.
        case accepted
        /// Sent by the caller, who waits for the brick: write-behind is off, or the handle was opened for
        /// synchronous or direct I/O, or the write is larger than a file's window.
        case passThrough
        /// Wait for a write in flight to complete, then ask again: this one overlaps it, the window is full, or
        /// it must pass through behind writes still in flight (its order after them matters).
        case wait
        /// An earlier write of this file failed after it was acknowledged: this write fails with that error
        /// and is not performed.
        case failed(FileSystemError)
    }

    private struct FileWrites {
        var inFlight: [Write] = []
        var byteCount = 0
        var error: FileSystemError?

        var isEmpty: Bool { inFlight.isEmpty && error == nil }
    }

    /// Whether new writes may be acknowledged early: a sender runs and the volume's option allows it.
    var isAccepting = false
    /// Handles opened for writing without O_SYNC, O_DSYNC, O_DIRECT or O_APPEND.
    private(set) var eligible: Set<OpenFile> = []
    private var files: [FileID: FileWrites] = [:]
    /// Accepted writes the sender has not taken yet, oldest first.
    private var queue: [Write] = []
    private(set) var byteCount = 0
    private var nextID: UInt64 = 1

    /// Records a handle the stack opened; only eligible ones write behind.
    mutating func opened(_ file: OpenFile, flags: OpenFlags) {
        if flags.contains(.write) && flags.isDisjoint(with: [.synchronous, .dataSynchronous, .direct, .append]) {
            eligible.insert(file)
        }
    }

    mutating func released(_ file: OpenFile) {
        eligible.remove(file)
    }

    /// Decides what a write of `data` at `offset` through `file` does; an accepted write is queued.
    mutating func admit(_ data: ByteBuffer, to file: OpenFile, at offset: UInt64, context: OperationContext)
        -> Admission
    {
        var writes = files[file.id, default: FileWrites()]
        if let error = writes.error {
            writes.error = nil
            files[file.id] = writes.isEmpty ? nil : writes
            return .failed(error)
        }
        let count = data.readableBytes
        let fitsOffsets = offset <= UInt64.max - UInt64(count)
        guard isAccepting, eligible.contains(file), count > 0, count <= Limits.writeBehindFileByteCountMax,
            fitsOffsets
        else {
            return writes.inFlight.isEmpty ? .passThrough : .wait
        }
        let end = offset + UInt64(count)
        if writes.inFlight.contains(where: { $0.offset < end && offset < $0.end }) { return .wait }
        if writes.byteCount + count > Limits.writeBehindFileByteCountMax
            || writes.inFlight.count >= Limits.writeBehindFileWritesMax
            || byteCount + count > Limits.writeBehindVolumeByteCountMax
        {
            return .wait
        }
        let write = Write(id: nextID, file: file, offset: offset, data: data, context: context)
        nextID += 1
        writes.inFlight.append(write)
        writes.byteCount += count
        byteCount += count
        files[file.id] = writes
        queue.append(write)
        return .accepted
    }

    /// The accepted writes not yet handed to the sender, which now owns them.
    mutating func takeQueued() -> [Write] {
        defer { queue.removeAll(keepingCapacity: true) }
        return queue
    }

    var hasQueued: Bool { !queue.isEmpty }

    /// Records that a write the sender took has landed, or failed with `error`.
    mutating func complete(_ write: Write, error: FileSystemError?) {
        guard var writes = files[write.file.id],
            let index = writes.inFlight.firstIndex(where: { $0.id == write.id })
        else {
            preconditionFailure("write-behind: completion of write \(write.id) that is not in flight")
        }
        writes.inFlight.remove(at: index)
        writes.byteCount -= write.data.readableBytes
        byteCount -= write.data.readableBytes
        if let error, writes.error == nil { writes.error = error }
        files[write.file.id] = writes.isEmpty ? nil : writes
    }

    /// Whether `file` has writes in flight.
    func hasWrites(_ file: FileID) -> Bool {
        files[file]?.inFlight.isEmpty == false
    }

    /// Whether any file has writes in flight.
    var hasWrites: Bool { byteCount > 0 }

    /// The failed write's error kept for `file`, taken (it is reported once).
    mutating func takeError(of file: FileID) -> FileSystemError? {
        guard var writes = files[file], let error = writes.error else { return nil }
        writes.error = nil
        files[file] = writes.isEmpty ? nil : writes
        return error
    }

    /// Every error still kept, taken (the volume is closing: nobody is left to report them to).
    mutating func takeAllErrors() -> [(FileID, FileSystemError)] {
        var taken: [(FileID, FileSystemError)] = []
        for (file, writes) in files {
            guard let error = writes.error else { continue }
            taken.append((file, error))
            files[file]?.error = nil
            if files[file]?.isEmpty == true { files[file] = nil }
        }
        return taken
    }

    /// Checks the invariants above; a description of the first one broken, nil when they hold.
    func checkInvariants() -> String? {
        var total = 0
        for (file, writes) in files {
            if writes.isEmpty { return "file \(file) is kept with nothing in flight and no error" }
            let sorted = writes.inFlight.sorted { $0.offset < $1.offset }
            for (earlier, later) in zip(sorted, sorted.dropFirst()) where later.offset < earlier.end {
                return "writes \(earlier.id) and \(later.id) of \(file) overlap"
            }
            let sum = writes.inFlight.reduce(0) { $0 + $1.data.readableBytes }
            if sum != writes.byteCount { return "file \(file) counts \(writes.byteCount) bytes, holds \(sum)" }
            if sum > Limits.writeBehindFileByteCountMax { return "file \(file) holds \(sum) bytes" }
            if writes.inFlight.count > Limits.writeBehindFileWritesMax {
                return "file \(file) has \(writes.inFlight.count) writes in flight"
            }
            total += sum
        }
        if total != byteCount { return "the window counts \(byteCount) bytes, its files hold \(total)" }
        if byteCount > Limits.writeBehindVolumeByteCountMax { return "the window holds \(byteCount) bytes" }
        return nil
    }
}
