import MortarCore

/// POSIX byte-range locks of one brick as a pure value: who holds which range of which file. The lock layer is
/// its shell (waiting, cancellation); this type only answers "does this conflict?" and applies changes.
///
/// A lock belongs to an owner on a connection: the same owner's locks never conflict with each other and are
/// split or replaced by its new requests, as `fcntl(F_SETLK)` does for one process.
public struct LockTable: Sendable {
    public struct Holder: Hashable, Sendable {
        public var connectionID: UInt64
        public var owner: UInt64
    }

    public struct HeldLock: Hashable, Sendable {
        public var holder: Holder
        public var isWrite: Bool
        public var start: UInt64
        public var end: UInt64
        public var processID: Int32

        func overlaps(_ start: UInt64, _ end: UInt64) -> Bool { self.start <= end && start <= self.end }
    }

    private var locksByFile: [FileID: [HeldLock]] = [:]
    public private(set) var count = 0

    public init() {}

    /// The first lock held by someone else that blocks `request`, if any.
    public func conflict(with request: LockRequest, on file: FileID, holder: Holder) -> HeldLock? {
        guard request.kind != .unlock else { return nil }
        return locksByFile[file]?.first { held in
            held.holder != holder && held.overlaps(request.start, request.end)
                && (held.isWrite || request.kind == .write)
        }
    }

    /// Applies a lock or unlock that does not conflict. The holder's own locks in the range are replaced.
    public mutating func apply(_ request: LockRequest, on file: FileID, holder: Holder) throws {
        precondition(conflict(with: request, on: file, holder: holder) == nil, "applying a conflicting lock")
        var locks = locksByFile[file] ?? []
        var kept: [HeldLock] = []
        for held in locks {
            guard held.holder == holder, held.overlaps(request.start, request.end) else {
                kept.append(held)
                continue
            }
            if held.start < request.start {
                var before = held
                before.end = request.start - 1
                kept.append(before)
            }
            if held.end > request.end {
                var after = held
                after.start = request.end + 1
                kept.append(after)
            }
        }
        if request.kind != .unlock {
            kept.append(
                HeldLock(
                    holder: holder, isWrite: request.kind == .write, start: request.start, end: request.end,
                    processID: request.processID))
        }
        let newCount = count - locks.count + kept.count
        guard newCount <= Limits.locksPerBrickMax else {
            throw FileSystemError(.noLocks, "brick holds \(count) locks, the limit is \(Limits.locksPerBrickMax)")
        }
        locks = kept
        locksByFile[file] = locks.isEmpty ? nil : locks
        count = newCount
    }

    /// Drops every lock of a connection (it went away), optionally only on one file (it closed the file).
    /// Returns the files whose locks changed, so their waiters can retry.
    public mutating func removeAll(connectionID: UInt64, file: FileID? = nil) -> [FileID] {
        var changed: [FileID] = []
        let files = file.map { [$0] } ?? Array(locksByFile.keys)
        for candidate in files {
            guard let locks = locksByFile[candidate] else { continue }
            let kept = locks.filter { $0.holder.connectionID != connectionID }
            guard kept.count != locks.count else { continue }
            count -= locks.count - kept.count
            locksByFile[candidate] = kept.isEmpty ? nil : kept
            changed.append(candidate)
        }
        return changed
    }

    /// The locks currently held on a file, for tests and diagnostics.
    public func locks(on file: FileID) -> [HeldLock] { locksByFile[file] ?? [] }
}
