import CFuse
import Glibc
import MortarCore
import Synchronization

/// POSIX byte-range locks (fcntl F_GETLK/F_SETLK/F_SETLKW) and flock(2), kept by the bricks so that every client
/// of the volume sees them. The kernel names the owner: the process's file table for POSIX locks, the open file
/// description for flock. flock is a whole-file lock under its own owner, so the two kinds never release each
/// other; unlike on a local file system they do conflict with each other when they overlap.
extension MountedFileSystem {
    /// A copy of the kernel's `struct flock` (its memory is libfuse's stack), as a lock request.
    static func lockRequest(_ lock: flock, owner: UInt64) throws -> LockRequest {
        let kind: LockRequest.Kind
        switch Int32(lock.l_type) {
        case F_RDLCK: kind = .read
        case F_WRLCK: kind = .write
        case F_UNLCK: kind = .unlock
        default: throw FileSystemError.invalidArgument("lock type \(lock.l_type)")
        }
        guard lock.l_start >= 0, lock.l_len >= 0 else {
            throw FileSystemError.invalidArgument("lock range \(lock.l_start)+\(lock.l_len)")
        }
        return LockRequest(
            kind: kind, start: UInt64(lock.l_start), length: UInt64(lock.l_len), owner: owner,
            processID: lock.l_pid)
    }

    func testLock(_ request: Request, handle: UInt64, lock: flock, owner: UInt64) {
        serve(request) { context in
            let file = try self.files.withLock { try $0.handle(handle) }.file
            var reply = lock
            if let held = try await self.stack.testLock(
                file, try Self.lockRequest(lock, owner: owner), context: context)
            {
                reply.l_type = Int16(held.kind == .write ? F_WRLCK : F_RDLCK)
                reply.l_start = off_t(clamping: held.start)
                reply.l_len = off_t(clamping: held.length)
                reply.l_pid = held.processID
            } else {
                reply.l_type = Int16(F_UNLCK)
            }
            fuse_reply_lock(request.raw, &reply)
        }
    }

    func setLock(_ request: Request, handle: UInt64, lock: flock, owner: UInt64, wait: Bool) {
        serve(request) { context in
            let open = try self.files.withLock { try $0.handle(handle) }
            let lockRequest = try Self.lockRequest(lock, owner: owner)
            try Self.checkAccess(open.flags, for: lockRequest.kind)
            try await self.lock(open.file, lockRequest, wait: wait, request: request, context: context)
            request.succeed()
        }
    }

    /// flock(2): LOCK_SH, LOCK_EX or LOCK_UN over the whole file, waiting unless LOCK_NB.
    func flock(_ request: Request, handle: UInt64, operation: Int32, owner: UInt64) {
        serve(request) { context in
            let open = try self.files.withLock { try $0.handle(handle) }
            let kind: LockRequest.Kind
            switch operation & ~LOCK_NB {
            case LOCK_SH: kind = .read
            case LOCK_EX: kind = .write
            case LOCK_UN: kind = .unlock
            default: throw FileSystemError.invalidArgument("flock operation \(operation)")
            }
            let lockRequest = LockRequest(kind: kind, start: 0, length: 0, owner: owner, processID: request.processID)
            try await self.lock(
                open.file, lockRequest, wait: operation & LOCK_NB == 0, request: request, context: context)
            request.succeed()
        }
    }

    /// POSIX: a read lock needs a descriptor open for reading, a write lock one open for writing (EBADF).
    private static func checkAccess(_ flags: OpenFlags, for kind: LockRequest.Kind) throws {
        if kind == .read, !flags.contains(.read) {
            throw FileSystemError(.badFileHandle, "read lock on a file not open for reading")
        }
        if kind == .write, !flags.contains(.write) {
            throw FileSystemError(.badFileHandle, "write lock on a file not open for writing")
        }
    }

    /// Takes a lock. A waiting request asks again and again (backing off) instead of waiting on the brick: then a
    /// signal to the waiting process (which the kernel passes on as an interrupt) ends the wait at once with
    /// EINTR, and no brick is left holding a waiter that nobody wants any more.
    private func lock(
        _ file: OpenFile, _ lockRequest: LockRequest, wait: Bool, request: Request, context: OperationContext
    ) async throws {
        if lockRequest.kind != .unlock { files.withLock { $0.noteLocked(file.id) } }
        var pause = Limits.mountLockRetryMinMilliseconds
        while true {
            do {
                try await stack.lock(file, lockRequest, wait: false, context: context)
                return
            } catch let error as FileSystemError where error.code == .wouldBlock && wait {
                if fuse_req_interrupted(request.raw) != 0 || Task.isCancelled {
                    throw FileSystemError(.interrupted, "lock wait was interrupted")
                }
                try? await Task.sleep(for: .milliseconds(pause))
                pause = min(pause * 2, Limits.mountLockRetryMaxMilliseconds)
            }
        }
    }

    /// Drops every lock `owner` holds on the file.
    func unlockAll(_ file: OpenFile, owner: UInt64, context: OperationContext) async throws {
        let unlock = LockRequest(kind: .unlock, start: 0, length: 0, owner: owner)
        try await stack.lock(file, unlock, wait: false, context: context)
    }
}
