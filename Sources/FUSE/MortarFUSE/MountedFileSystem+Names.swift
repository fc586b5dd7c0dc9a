import CFuse
import Glibc
import MortarCore
import Synchronization

/// Lookups, attributes and the namespace: each by parent FileID and name, as the operation table has them.
extension MountedFileSystem {
    func lookup(_ request: Request, parent: UInt64, name: String) {
        serve(request) { context in
            let parentID = try self.fileID(of: parent)
            do {
                let attributes = try await self.stack.lookup(name, in: parentID, context: context)
                try self.replyEntry(request, attributes)
            } catch let error as FileSystemError where error.code == .notFound && self.options.negativeTimeout > 0 {
                // A node id of 0 with a timeout tells the kernel to remember that the name is absent.
                var entry = fuse_entry_param()
                entry.entry_timeout = self.options.negativeTimeout
                fuse_reply_entry(request.raw, &entry)
            }
        }
    }

    func forget(_ node: UInt64, count: UInt64) {
        inodes.withLock { $0.forget(node, count: count) }
    }

    func attributes(_ request: Request, node: UInt64, info: UnsafeMutablePointer<fuse_file_info>?) {
        let handle = existingHandle(info)
        serve(request) { context in
            let id = try self.fileID(of: node)
            self.replyAttributes(request, try await self.currentAttributes(id, open: handle?.file, context: context))
        }
    }

    /// Attributes by FileID, or through an open file when there is one: a file unlinked while open has no name
    /// left for the FileID to be found by, yet `fstat` on it must work.
    func currentAttributes(_ id: FileID, open: OpenFile?, context: OperationContext) async throws -> FileAttributes {
        if let open { return try await stack.attributes(ofOpen: open, context: context) }
        do {
            return try await stack.attributes(of: id, context: context)
        } catch let error as FileSystemError where error.code == .notFound || error.code == .staleHandle {
            guard let open = files.withLock({ $0.anyOpenFile(of: id) }) else { throw error }
            return try await stack.attributes(ofOpen: open, context: context)
        }
    }

    func setAttributes(
        _ request: Request, node: UInt64, _ status: stat, fields: Int32, info: UnsafeMutablePointer<fuse_file_info>?
    ) {
        let changes = Self.changes(status, fields: fields)
        let handle = existingHandle(info)
        serveChange(request) { context in
            let id = try self.fileID(of: node)
            var changes = changes
            try await self.clearPrivilegesForTheKernel(&changes, of: id, context: context)
            // ftruncate on a file that may have lost its last name goes through the open file.
            if let handle, let size = changes.size, changes == AttributeChanges(size: size) {
                try await self.stack.truncate(handle.file, to: size, context: context)
                self.replyAttributes(request, try await self.stack.attributes(ofOpen: handle.file, context: context))
                return
            }
            do {
                self.replyAttributes(request, try await self.stack.setAttributes(changes, of: id, context: context))
            } catch let error as FileSystemError where error.code == .notFound || error.code == .staleHandle {
                // The file lost its last name while open (the writeback cache sends times and sizes at close).
                // Only its size can still change, through an open file; its times and modes no one can see any
                // more but through fstat.
                guard let open = handle?.file ?? self.files.withLock({ $0.anyOpenFile(of: id) }) else { throw error }
                if let size = changes.size { try await self.stack.truncate(open, to: size, context: context) }
                self.replyAttributes(request, try await self.stack.attributes(ofOpen: open, context: context))
            }
        }
    }

    /// The kernel still clears set-user-ID/set-group-ID bits itself before a write or truncate (with a mode in
    /// the writer's name, even though the bricks clear them too), and a writer who is not the owner may not chmod
    /// on a brick. With `default_permissions` the kernel refuses a real chmod by anyone but the owner before it
    /// reaches the mount, so a non-owner's mode change that only removes those bits is the kernel's clearing: the
    /// mount makes it as root (it removes privileges, never grants any) and passes the rest on as the caller.
    private func clearPrivilegesForTheKernel(
        _ changes: inout AttributeChanges, of id: FileID, context: OperationContext
    ) async throws {
        guard context.userID != 0, let permissions = changes.permissions else { return }
        let current = try await stack.attributes(of: id, context: context)
        let setIDBits: UInt32 = 0o6000
        guard current.userID != context.userID, permissions & ~setIDBits == current.permissions & ~setIDBits,
            permissions & setIDBits & ~current.permissions == 0
        else { return }
        var root = context
        root.userID = 0
        root.groupID = 0
        root.supplementaryGroupIDs = []
        _ = try await stack.setAttributes(AttributeChanges(permissions: permissions), of: id, context: root)
        changes.permissions = nil
    }

    /// The changes a setattr request asks for, from the `FUSE_SET_ATTR_*` bits.
    static func changes(_ status: stat, fields: Int32) -> AttributeChanges {
        var changes = AttributeChanges()
        if fields & cfuse_set_attr_mode != 0 { changes.permissions = UInt32(status.st_mode) & 0o7777 }
        if fields & cfuse_set_attr_uid != 0 { changes.userID = status.st_uid }
        if fields & cfuse_set_attr_gid != 0 { changes.groupID = status.st_gid }
        if fields & cfuse_set_attr_size != 0 { changes.size = UInt64(max(0, status.st_size)) }
        if fields & cfuse_set_attr_atime_now != 0 {
            changes.accessTime = .now
        } else if fields & cfuse_set_attr_atime != 0 {
            changes.accessTime = .set(Timestamp(status.st_atim))
        }
        if fields & cfuse_set_attr_mtime_now != 0 {
            changes.modificationTime = .now
        } else if fields & cfuse_set_attr_mtime != 0 {
            changes.modificationTime = .set(Timestamp(status.st_mtim))
        }
        return changes
    }

    func readSymbolicLink(_ request: Request, node: UInt64) {
        serve(request) { context in
            let target = try await self.stack.readSymbolicLink(try self.fileID(of: node), context: context)
            fuse_reply_readlink(request.raw, target)
        }
    }

    /// The kernel checked CAP_MKNOD for device nodes already; the brick checks again (only root may).
    func makeNode(_ request: Request, parent: UInt64, name: String, mode: mode_t, device: UInt64) {
        serveChange(request) { context in
            guard let type = FileType(modeBits: UInt32(mode)), type != .directory, type != .symbolicLink else {
                throw FileSystemError.invalidArgument("mknod of mode \(String(mode, radix: 8)) '\(name)'")
            }
            let attributes = try await self.stack.makeNode(
                name, in: try self.fileID(of: parent), id: .random(), type: type,
                permissions: UInt32(mode) & 0o7777, device: device, context: context)
            try self.replyEntry(request, attributes)
        }
    }

    func makeDirectory(_ request: Request, parent: UInt64, name: String, mode: mode_t) {
        serveChange(request) { context in
            let attributes = try await self.stack.makeDirectory(
                name, in: try self.fileID(of: parent), id: .random(), permissions: UInt32(mode) & 0o7777,
                context: context)
            try self.replyEntry(request, attributes)
        }
    }

    func unlink(_ request: Request, parent: UInt64, name: String) {
        serveChange(request) { context in
            try await self.stack.unlink(name, in: try self.fileID(of: parent), context: context)
            request.succeed()
        }
    }

    func removeDirectory(_ request: Request, parent: UInt64, name: String) {
        serveChange(request) { context in
            try await self.stack.removeDirectory(name, in: try self.fileID(of: parent), context: context)
            request.succeed()
        }
    }

    func makeSymbolicLink(_ request: Request, target: String, parent: UInt64, name: String) {
        serveChange(request) { context in
            let attributes = try await self.stack.makeSymbolicLink(
                name, in: try self.fileID(of: parent), id: .random(), target: target, context: context)
            try self.replyEntry(request, attributes)
        }
    }

    /// `renameat2` flags: RENAME_NOREPLACE and RENAME_EXCHANGE go to the volume; RENAME_WHITEOUT (overlay file
    /// systems' business) is refused.
    func rename(
        _ request: Request, parent: UInt64, name: String, newParent: UInt64, newName: String, flags: UInt32
    ) {
        serveChange(request) { context in
            guard flags & ~UInt32(cfuse_rename_noreplace | cfuse_rename_exchange) == 0 else {
                throw FileSystemError.invalidArgument("rename flags \(flags) are not supported")
            }
            try await self.stack.rename(
                name, in: try self.fileID(of: parent), to: newName, in: try self.fileID(of: newParent),
                flags: Self.renameFlags(flags), context: context)
            request.succeed()
        }
    }

    static func renameFlags(_ flags: UInt32) -> RenameFlags {
        var result: RenameFlags = []
        if flags & UInt32(cfuse_rename_noreplace) != 0 { result.insert(.noReplace) }
        if flags & UInt32(cfuse_rename_exchange) != 0 { result.insert(.exchange) }
        return result
    }

    func link(_ request: Request, node: UInt64, newParent: UInt64, newName: String) {
        serveChange(request) { context in
            let attributes = try await self.stack.link(
                try self.fileID(of: node), as: newName, in: try self.fileID(of: newParent), context: context)
            try self.replyEntry(request, attributes)
        }
    }

    func fileSystemStatistics(_ request: Request) {
        serve(request) { context in
            let statistics = try await self.stack.fileSystemStatistics(context: context)
            var reply = statvfs()
            reply.f_bsize = UInt(statistics.blockSize)
            reply.f_frsize = UInt(statistics.fragmentSize)
            reply.f_blocks = fsblkcnt_t(statistics.blocks)
            reply.f_bfree = fsblkcnt_t(statistics.blocksFree)
            reply.f_bavail = fsblkcnt_t(statistics.blocksAvailable)
            reply.f_files = fsfilcnt_t(statistics.files)
            reply.f_ffree = fsfilcnt_t(statistics.filesFree)
            reply.f_favail = fsfilcnt_t(statistics.filesAvailable)
            reply.f_namemax = UInt(statistics.nameLengthMax)
            fuse_reply_statfs(request.raw, &reply)
        }
    }
}
