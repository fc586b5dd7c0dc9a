import MortarCore
import NIOCore

/// What each operation waits for among the writes in flight (see ``WriteBehind``): every operation is decided
/// here, so a new one does not compile until someone has said how it orders after them.
extension WriteBehind {
    // MARK: Names and attributes

    func lookup(_ name: String, in parent: FileID, context: OperationContext) async throws -> FileAttributes {
        // The size and times it returns must include this process's acknowledged writes.
        try await current(next.lookup(name, in: parent, context: context), context: context)
    }

    func attributes(of file: FileID, context: OperationContext) async throws -> FileAttributes {
        await settle(file)
        return try await next.attributes(of: file, context: context)
    }

    func attributes(ofOpen file: OpenFile, context: OperationContext) async throws -> FileAttributes {
        await settle(file.id)
        return try await next.attributes(ofOpen: file, context: context)
    }

    func setAttributes(_ changes: AttributeChanges, of file: FileID, context: OperationContext) async throws
        -> FileAttributes
    {
        // A truncate must land after the writes before it, and times set (cp -p, rsync) after the writes that
        // would move them again.
        await settle(file)
        return try await next.setAttributes(changes, of: file, context: context)
    }

    func checkAccess(_ mask: AccessMask, to file: FileID, context: OperationContext) async throws {
        try await next.checkAccess(mask, to: file, context: context)  // permissions only
    }

    // MARK: Files

    func create(
        _ name: String, in parent: FileID, id: FileID, permissions: UInt32, flags: OpenFlags,
        context: OperationContext
    ) async throws -> CreatedFile {
        // O_TRUNC of an existing file empties it after the writes acknowledged before; which file the name holds
        // is not known until the brick answers, so every file's writes land first.
        if flags.contains(.truncate) { await settleAll() }
        let created = try await next.create(
            name, in: parent, id: id, permissions: permissions, flags: flags, context: context)
        noteOpened(created.file, flags: flags)
        return created
    }

    func open(_ file: FileID, flags: OpenFlags, context: OperationContext) async throws -> OpenFile {
        if flags.contains(.truncate) { await settle(file) }
        let opened = try await next.open(file, flags: flags, context: context)
        noteOpened(opened, flags: flags)
        return opened
    }

    func openAndRead(_ file: FileID, flags: OpenFlags, count: Int, context: OperationContext) async throws
        -> OpenedFile
    {
        await settle(file)  // the head it reads includes what this process wrote before
        let opened = try await next.openAndRead(file, flags: flags, count: count, context: context)
        noteOpened(opened.file, flags: flags)
        return opened
    }

    func lookupAndRead(
        _ name: String, in parent: FileID, flags: OpenFlags, count: Int, context: OperationContext
    ) async throws -> FoundFile {
        // Which file the name holds is not known until the brick answers. If this process has writes of it in
        // flight, the size and head may predate them: the head is given back, and the caller opens the usual
        // way, which waits for them.
        let found = try await next.lookupAndRead(name, in: parent, flags: flags, count: count, context: context)
        let id = found.attributes.id
        guard hasWrites(id) else {
            if let opened = found.opened { noteOpened(opened.file, flags: flags) }
            return found
        }
        if let opened = found.opened {
            // Never seen by the caller: a failed release could only be of a handle already gone.
            try? await next.release(opened.file, context: context)
        }
        return FoundFile(attributes: try await current(found.attributes, context: context), opened: nil)
    }

    func release(_ file: OpenFile, context: OperationContext) async throws {
        // Close returns what failed behind the application's back (as close(2) may on NFS); the handle is
        // released on the brick either way.
        await settle(file.id)
        noteReleased(file)
        try await next.release(file, context: context)
        if let error = takeError(of: file.id) { throw error }
    }

    func read(from file: OpenFile, at offset: UInt64, count: Int, context: OperationContext) async throws
        -> ByteBuffer
    {
        await settle(file.id)  // reads what was written before
        return try await next.read(from: file, at: offset, count: count, context: context)
    }

    func grantLocalRead(of file: OpenFile, context: OperationContext) async throws -> LocalReadGrant {
        // Whoever reads through the descriptor must find what was written before, as a read does.
        await settle(file.id)
        return try await next.grantLocalRead(of: file, context: context)
    }

    func write(_ data: ByteBuffer, to file: OpenFile, at offset: UInt64, context: OperationContext) async throws
        -> Int
    {
        while true {
            switch await admit(data, to: file, at: offset, context: context) {
            case .accepted:
                wakeSender()
                return data.readableBytes
            case .passThrough:
                return try await next.write(data, to: file, at: offset, context: context)
            case .failed(let error):
                throw error
            case .wait:
                continue  // a write completed: decide again
            }
        }
    }


    func truncate(_ file: OpenFile, to size: UInt64, context: OperationContext) async throws {
        await settle(file.id)
        try await next.truncate(file, to: size, context: context)
    }

    func synchronize(_ file: OpenFile, dataOnly: Bool, context: OperationContext) async throws {
        // fsync makes every acknowledged write durable, or says one failed.
        await settle(file.id)
        if let error = takeError(of: file.id) { throw error }
        try await next.synchronize(file, dataOnly: dataOnly, context: context)
    }

    func flush(_ file: OpenFile, context: OperationContext) async throws {
        await settle(file.id)
        if let error = takeError(of: file.id) { throw error }
        try await next.flush(file, context: context)
    }

    func allocate(
        _ file: OpenFile, at offset: UInt64, length: UInt64, keepSize: Bool, context: OperationContext
    ) async throws {
        await settle(file.id)
        try await next.allocate(file, at: offset, length: length, keepSize: keepSize, context: context)
    }

    func discard(_ file: OpenFile, at offset: UInt64, length: UInt64, context: OperationContext) async throws {
        await settle(file.id)
        try await next.discard(file, at: offset, length: length, context: context)
    }

    func zeroFill(_ file: OpenFile, at offset: UInt64, length: UInt64, context: OperationContext) async throws {
        await settle(file.id)
        try await next.zeroFill(file, at: offset, length: length, context: context)
    }

    func seek(_ file: OpenFile, from offset: UInt64, to target: SeekTarget, context: OperationContext) async throws
        -> UInt64
    {
        await settle(file.id)  // where data and holes are depends on the writes
        return try await next.seek(file, from: offset, to: target, context: context)
    }

    func lock(_ file: OpenFile, _ request: LockRequest, wait: Bool, context: OperationContext) async throws {
        // Whoever takes the lock after this process releases it must read what was written under it.
        await settle(file.id)
        try await next.lock(file, request, wait: wait, context: context)
    }

    func testLock(_ file: OpenFile, _ request: LockRequest, context: OperationContext) async throws -> LockRequest? {
        try await next.testLock(file, request, context: context)  // changes nothing, reads no bytes
    }

    // MARK: Namespace — names change; the writes in flight go to open handles, which stay valid

    func unlink(_ name: String, in parent: FileID, context: OperationContext) async throws {
        try await next.unlink(name, in: parent, context: context)
    }

    func makeDirectory(
        _ name: String, in parent: FileID, id: FileID, permissions: UInt32, context: OperationContext
    ) async throws -> FileAttributes {
        try await next.makeDirectory(name, in: parent, id: id, permissions: permissions, context: context)
    }

    func removeDirectory(_ name: String, in parent: FileID, context: OperationContext) async throws {
        try await next.removeDirectory(name, in: parent, context: context)
    }

    func readDirectory(_ directory: FileID, after cookie: UInt64, countMax: Int, context: OperationContext)
        async throws -> DirectoryPage
    {
        var page = try await next.readDirectory(directory, after: cookie, countMax: countMax, context: context)
        // Entries carry attributes: those of files with writes in flight are read again once they landed.
        for index in page.entries.indices {
            page.entries[index].attributes = try await current(page.entries[index].attributes, context: context)
        }
        return page
    }

    func rename(
        _ name: String, in parent: FileID, to newName: String, in newParent: FileID, flags: RenameFlags,
        context: OperationContext
    ) async throws {
        try await next.rename(name, in: parent, to: newName, in: newParent, flags: flags, context: context)
    }

    func link(_ file: FileID, as name: String, in parent: FileID, context: OperationContext) async throws
        -> FileAttributes
    {
        await settle(file)  // returns the file's attributes
        return try await next.link(file, as: name, in: parent, context: context)
    }

    func makeSymbolicLink(
        _ name: String, in parent: FileID, id: FileID, target: String, context: OperationContext
    ) async throws -> FileAttributes {
        try await next.makeSymbolicLink(name, in: parent, id: id, target: target, context: context)
    }

    func readSymbolicLink(_ file: FileID, context: OperationContext) async throws -> String {
        try await next.readSymbolicLink(file, context: context)  // symbolic links are never written to
    }

    func makeNode(
        _ name: String, in parent: FileID, id: FileID, type: FileType, permissions: UInt32, device: UInt64,
        context: OperationContext
    ) async throws -> FileAttributes {
        try await next.makeNode(
            name, in: parent, id: id, type: type, permissions: permissions, device: device, context: context)
    }

    func fileSystemStatistics(context: OperationContext) async throws -> FileSystemStatistics {
        // Free space as the bricks count it: at most the window's bytes (tens of MiB) from settled.
        try await next.fileSystemStatistics(context: context)
    }

    // MARK: Extended attributes — metadata, which no write changes

    func extendedAttribute(_ name: String, of file: FileID, context: OperationContext) async throws -> [UInt8] {
        try await next.extendedAttribute(name, of: file, context: context)
    }

    func setExtendedAttribute(
        _ name: String, to value: [UInt8], mode: ExtendedAttributeMode, of file: FileID, context: OperationContext
    ) async throws {
        try await next.setExtendedAttribute(name, to: value, mode: mode, of: file, context: context)
    }

    func extendedAttributeNames(of file: FileID, context: OperationContext) async throws -> [String] {
        try await next.extendedAttributeNames(of: file, context: context)
    }

    func removeExtendedAttribute(_ name: String, of file: FileID, context: OperationContext) async throws {
        try await next.removeExtendedAttribute(name, of: file, context: context)
    }

    // MARK: Control

    func control(_ request: ControlRequest, context: OperationContext) async throws -> ControlReply {
        // Replication's messages (a heal among them) may read or rewrite any file: everything lands first.
        await settleAll()
        return try await next.control(request, context: context)
    }
}
