import CFuse
import Glibc
import Logging
import Mortar
import MortarCore
import Synchronization
import NIOCore

/// Open files and their data. The `fuse_file_info` libfuse passes lives on its thread's stack only for the length
/// of the callback, so callers copy it and the tasks here reply with their own copy.
extension MountedFileSystem {
    func open(_ request: Request, node: UInt64, info: fuse_file_info) {
        serve(request) { context in
            let id = try self.fileID(of: node)
            let flags = self.brickFlags(forKernel: info.flags)
            // A small file is read right after its open (cat, cp, a compiler's headers): its bytes come with the
            // open, and the kernel's reads are answered from them (one exchange where there were two).
            guard self.inodes.withLock({ $0.isSmallFile(node) }) else {
                let file = try await self.stack.open(id, flags: flags, context: context)
                try await self.replyOpen(request, file: file, head: nil, flags: flags, info: info, context: context)
                return
            }
            let opened = try await self.volume.openFetchingHead(id, flags: flags, context: context)
            try await self.replyOpen(
                request, file: opened.file, head: opened.head, flags: flags, info: info, context: context)
        }
    }

    func create(_ request: Request, parent: UInt64, name: String, mode: mode_t, info: fuse_file_info) {
        serveChange(request) { context in
            let parentID = try self.fileID(of: parent)
            let flags = self.brickFlags(forKernel: info.flags)
            let created = try await self.stack.create(
                name, in: parentID, id: .random(), permissions: UInt32(mode) & 0o7777, flags: flags,
                context: context)
            var reply = info
            do {
                reply.fh = try self.files.withLock { try $0.add(OpenHandle(file: created.file, flags: flags)) }
            } catch {
                // Cleanup: the kernel never got this handle, and the error already answered it.
                try? await self.stack.release(created.file, context: context)
                throw error
            }
            self.setCaching(&reply, posixFlags: info.flags)
            // The kernel asks for security.capability before the first write; a file just made has none (file
            // capabilities are only ever set, never inherited), so the answer needs no brick.
            self.absentAttributes.withLock { $0.noteAbsent("security.capability", on: created.attributes.id) }
            let node = try self.inodes.withLock { try $0.remember(created.attributes) }
            var entry = self.entryParameters(node: node, created.attributes)
            if fuse_reply_create(request.raw, &entry, &reply) != 0 {
                // The creating process was interrupted and never sees the file handle or the node.
                self.inodes.withLock { $0.forget(node, count: 1) }
                await self.releaseHandle(reply.fh, context: context)
            }
        }
    }

    private func replyOpen(
        _ request: Request, file: OpenFile, head: FileHead?, flags: OpenFlags, info: fuse_file_info,
        context: OperationContext
    ) async throws {
        var reply = info
        do {
            reply.fh = try files.withLock { try $0.add(OpenHandle(file: file, flags: flags, head: head)) }
        } catch {
            // Cleanup: the kernel never got this handle, and the error already answered it.
            try? await stack.release(file, context: context)
            throw error
        }
        setCaching(&reply, posixFlags: info.flags)
        if fuse_reply_open(request.raw, &reply) != 0 {
            await releaseHandle(reply.fh, context: context)
        }
    }

    func read(_ request: Request, handle: UInt64, count: Int, offset: Int64) {
        let offset = UInt64(max(0, offset))
        let count = min(count, Limits.ioByteCountMax)
        // Bytes the open brought are answered on libfuse's thread, with no task and no thread switch. (An unknown
        // handle goes to the task, which answers EBADF.)
        if let open = try? files.withLock({ try $0.handle(handle) }), let bytes = open.head?.read(at: offset, count: count) {
            bytes.withUnsafeReadableBytes { request.reply(bytes: $0) }
            return
        }
        serve(request) { context in
            let open = try self.files.withLock { try $0.handle(handle) }
            let data = try await self.stack.read(from: open.file, at: offset, count: count, context: context)
            data.withUnsafeReadableBytes { request.reply(bytes: $0) }
        }
    }

    /// The kernel's buffer is only valid during the callback, so the caller copies it into `data` first.
    func write(_ request: Request, handle: UInt64, data: ByteBuffer, offset: Int64) {
        serveChange(request) { context in
            let file = try self.files.withLock { try $0.handle(handle) }.file
            let written = try await self.stack.write(data, to: file, at: UInt64(max(0, offset)), context: context)
            fuse_reply_write(request.raw, written)
        }
    }

    /// Every close(2) of a descriptor: the closing process's POSIX locks on the file go (as POSIX says), and
    /// whatever the layers buffer for the file is written out so close can report a failure.
    func flush(_ request: Request, handle: UInt64, lockOwner: UInt64) {
        // A descriptor that could not write and holds no locks has nothing to write out or drop: its close is
        // answered on libfuse's thread. (A write-behind failure of the file is then left for a descriptor that
        // wrote, whose close or fsync reports it. An unknown handle goes to the task, which answers EBADF.)
        let answersHere = files.withLock { table in
            guard let open = try? table.handle(handle) else { return false }
            return !open.flags.contains(.write) && !table.isLocked(open.file.id)
        }
        if answersHere {
            request.succeed()
            return
        }
        serve(request) { context in
            let open = try self.files.withLock { try $0.handle(handle) }
            if self.files.withLock({ $0.isLocked(open.file.id) }) {
                try await self.unlockAll(open.file, owner: lockOwner, context: context)
            }
            try await self.stack.flush(open.file, context: context)
            request.succeed()
        }
    }

    /// The last close of an open file description. A flock lock it holds goes with it.
    func release(_ request: Request, handle: UInt64, flockOwner: UInt64?) {
        serve(request) { context in
            // A handle the mount no longer knows holds no flock locks to drop.
            if let flockOwner, let open = try? self.files.withLock({ try $0.handle(handle) }) {
                // A close cannot fail towards the kernel; a lock left behind (the release may be held back while
                // other handles of the file are open) is at least logged.
                do {
                    try await self.unlockAll(open.file, owner: flockOwner, context: context)
                } catch {
                    self.logger.warning(
                        "could not drop flock locks on close", metadata: ["file": "\(open.file.id)", "error": "\(error)"])
                }
            }
            await self.releaseHandle(handle, context: context)
            request.succeed()
        }
    }

    func releaseHandle(_ handle: UInt64, context: OperationContext) async {
        for file in files.withLock({ $0.remove(handle) }) {
            do {
                try await stack.release(file, context: context)
            } catch {
                logger.debug("release failed", metadata: ["file": "\(file.id)", "error": "\(error)"])
            }
        }
    }

    func synchronize(_ request: Request, handle: UInt64, dataOnly: Bool) {
        serve(request) { context in
            let file = try self.files.withLock { try $0.handle(handle) }.file
            try await self.stack.synchronize(file, dataOnly: dataOnly, context: context)
            request.succeed()
        }
    }

    /// fallocate(2) modes the operation table has: plain allocation (with or without KEEP_SIZE), punching a hole,
    /// zeroing a range. Others are EOPNOTSUPP, as on a local file system that lacks them.
    func allocate(_ request: Request, handle: UInt64, mode: Int32, offset: Int64, length: Int64) {
        serveChange(request) { context in
            let file = try self.files.withLock { try $0.handle(handle) }.file
            guard offset >= 0, length > 0 else {
                throw FileSystemError.invalidArgument("fallocate of \(length) bytes at \(offset)")
            }
            let start = UInt64(offset)
            let count = UInt64(length)
            switch mode {
            case 0: try await self.stack.allocate(file, at: start, length: count, keepSize: false, context: context)
            case cfuse_falloc_keep_size:
                try await self.stack.allocate(file, at: start, length: count, keepSize: true, context: context)
            case cfuse_falloc_punch_hole | cfuse_falloc_keep_size:
                try await self.stack.discard(file, at: start, length: count, context: context)
            case cfuse_falloc_zero_range:
                try await self.stack.zeroFill(file, at: start, length: count, context: context)
            default:
                throw FileSystemError(.notSupported, "fallocate mode \(mode) is not supported")
            }
            request.succeed()
        }
    }

    /// SEEK_DATA and SEEK_HOLE; the kernel answers the other kinds of lseek itself. With the writeback cache the
    /// bricks may not have data the kernel still holds, so the mount declines (ENOSYS) and the kernel answers as
    /// for a file without holes, which POSIX allows.
    func seek(_ request: Request, handle: UInt64, offset: Int64, whence: Int32) {
        if options.writebackCache {
            request.fail(FileSystemError.Code.notImplemented.rawValue)
            return
        }
        serve(request) { context in
            let file = try self.files.withLock { try $0.handle(handle) }.file
            guard whence == cfuse_seek_data || whence == cfuse_seek_hole, offset >= 0 else {
                throw FileSystemError.invalidArgument("lseek whence \(whence) from \(offset)")
            }
            let found = try await self.stack.seek(
                file, from: UInt64(offset), to: whence == cfuse_seek_data ? .data : .hole, context: context)
            fuse_reply_lseek(request.raw, off_t(clamping: found))
        }
    }
}
