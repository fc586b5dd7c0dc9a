import Logging
import MortarCore
import MortarMembership
import NIOCore
import Synchronization

/// Every operation, routed: by FileID to the file's primary, namespace changes to the namespace primary.
extension Replicate {
    public func lookup(_ name: String, in parent: FileID, context: OperationContext) async throws -> FileAttributes {
        try await run(.primary(of: parent), context: context) { member, stamped in
            try await children[member].lookup(name, in: parent, context: stamped)
        }
    }

    public func attributes(of file: FileID, context: OperationContext) async throws -> FileAttributes {
        try await run(.primary(of: file), context: context) { member, stamped in
            try await children[member].attributes(of: file, context: stamped)
        }
    }

    public func attributes(ofOpen file: OpenFile, context: OperationContext) async throws -> FileAttributes {
        try await onPrimary(file, context: context) { member, handle, stamped in
            try await children[member].attributes(ofOpen: handle, context: stamped)
        }
    }

    public func setAttributes(_ changes: AttributeChanges, of file: FileID, context: OperationContext) async throws
        -> FileAttributes
    {
        try await run(.primary(of: file), context: context) { member, stamped in
            try await children[member].setAttributes(changes, of: file, context: stamped)
        }
    }

    public func checkAccess(_ mask: AccessMask, to file: FileID, context: OperationContext) async throws {
        try await run(.primary(of: file), context: context) { member, stamped in
            try await children[member].checkAccess(mask, to: file, context: stamped)
        }
    }

    public func create(
        _ name: String, in parent: FileID, id: FileID, permissions: UInt32, flags: OpenFlags,
        context: OperationContext
    ) async throws -> CreatedFile {
        let (member, created) = try await run(.namespace, context: context) { member, stamped in
            do {
                let created = try await children[member].create(
                    name, in: parent, id: id, permissions: permissions, flags: flags, context: stamped)
                return (member, created)
            } catch let error as FileSystemError where error.code == .exists {
                // A retry after a failover finds the file this very call made before the old primary failed. A
                // name that is gone again or holds another FileID is the EEXIST to report; a lookup that fails
                // otherwise fails the attempt with its own error (refused as stale, it is retried in the new view).
                guard
                    let existing = try await FileSystemError.nilIfNotFound({
                        try await children[member].lookup(name, in: parent, context: stamped)
                    }),
                    existing.id == id
                else { throw error }
                let opened = try await children[member].open(
                    id, flags: flags.subtracting(OpenFlags.creationOnly), context: stamped)
                return (member, CreatedFile(file: opened, attributes: existing))
            }
        }
        let file = register(id, flags: flags, member: member, file: created.file)
        return CreatedFile(file: file, attributes: created.attributes)
    }

    public func open(_ file: FileID, flags: OpenFlags, context: OperationContext) async throws -> OpenFile {
        let (member, opened) = try await run(.primary(of: file), context: context) { member, stamped in
            (member, try await children[member].open(file, flags: flags, context: stamped))
        }
        return register(file, flags: flags, member: member, file: opened)
    }

    public func openAndRead(_ file: FileID, flags: OpenFlags, count: Int, context: OperationContext) async throws
        -> OpenedFile
    {
        // Reads go to the primary: it has every change it acknowledged.
        let (member, opened) = try await run(.primary(of: file), context: context) { member, stamped in
            (member, try await children[member].openAndRead(file, flags: flags, count: count, context: stamped))
        }
        return OpenedFile(file: register(file, flags: flags, member: member, file: opened.file), head: opened.head)
    }

    public func lookupAndRead(
        _ name: String, in parent: FileID, flags: OpenFlags, count: Int, context: OperationContext
    ) async throws -> FoundFile {
        // To the directory's primary, as a lookup, and beside it to the other in-sync members: the directory's
        // primary answers for the name, and whichever member is the file's primary opens it and reads its head
        // (see ``lookUpAndReadBeside(_:in:flags:count:primary:context:)``). A file whose primary could not be
        // asked that way is opened by FileID, a second exchange.
        let (member, found, beside) = try await run(.primary(of: parent), context: context) { member, stamped in
            let (found, beside) = try await lookUpAndReadBeside(
                name, in: parent, flags: flags, count: count, primary: member, context: stamped)
            return (member, found, beside)
        }
        if let opened = found.opened {
            let file = register(found.attributes.id, flags: flags, member: member, file: opened.file)
            return FoundFile(attributes: found.attributes, opened: OpenedFile(file: file, head: opened.head))
        }
        if let beside {
            let file = register(found.attributes.id, flags: flags, member: beside.member, file: beside.opened.file)
            return FoundFile(attributes: found.attributes, opened: OpenedFile(file: file, head: beside.opened.head))
        }
        guard found.attributes.type == .regular else { return found }
        do {
            let opened = try await openAndRead(found.attributes.id, flags: flags, count: count, context: context)
            return FoundFile(attributes: found.attributes, opened: opened)
        } catch let error as FileSystemError where error.code == .permissionDenied {
            return found  // the caller's own open reports it
        }
    }

    public func release(_ file: OpenFile, context: OperationContext) async throws {
        let open = openFiles.withLock { $0.files.removeValue(forKey: file.handle) }
        guard let open, open.id == file.id else {
            throw FileSystemError(.badFileHandle, "file handle \(file.handle) is not open")
        }
        var context = context
        context.replication = ReplicationStamp(epoch: try membership.view(ofSet: setIndex).epoch, role: .client)
        let stamped = context
        let id = file.id
        // Side by side: a member that is gone (its host cut off) must not hold up the others' releases. A failed
        // release is only logged: the file is closed here either way, and a brick releases a connection's files
        // when the connection goes.
        await withTaskGroup(of: Void.self) { group in
            for (member, handle) in open.members {
                group.addTask {
                    do {
                        try await self.children[member].release(handle, context: stamped)
                    } catch {
                        self.logger.debug("release of \(id) on member \(member) failed: \(error)")
                    }
                }
            }
        }
    }

    public func read(from file: OpenFile, at offset: UInt64, count: Int, context: OperationContext) async throws
        -> ByteBuffer
    {
        try await onPrimary(file, context: context) { member, handle, stamped in
            try await children[member].read(from: handle, at: offset, count: count, context: stamped)
        }
    }

    public func grantLocalRead(of file: OpenFile, context: OperationContext) async throws -> LocalReadGrant {
        // From the member reads go to; members refuse it today (see ReplicaMemberLayer).
        try await onPrimary(file, context: context) { member, handle, stamped in
            try await children[member].grantLocalRead(of: handle, context: stamped)
        }
    }

    public func write(_ data: ByteBuffer, to file: OpenFile, at offset: UInt64, context: OperationContext) async throws
        -> Int
    {
        try await onPrimary(file, context: context) { member, handle, stamped in
            try await children[member].write(data, to: handle, at: offset, context: stamped)
        }
    }

    public func truncate(_ file: OpenFile, to size: UInt64, context: OperationContext) async throws {
        try await onPrimary(file, context: context) { member, handle, stamped in
            try await children[member].truncate(handle, to: size, context: stamped)
        }
    }

    public func synchronize(_ file: OpenFile, dataOnly: Bool, context: OperationContext) async throws {
        try await onPrimary(file, context: context) { member, handle, stamped in
            try await children[member].synchronize(handle, dataOnly: dataOnly, context: stamped)
        }
    }

    public func flush(_ file: OpenFile, context: OperationContext) async throws {
        try await onPrimary(file, context: context) { member, handle, stamped in
            try await children[member].flush(handle, context: stamped)
        }
    }

    public func allocate(
        _ file: OpenFile, at offset: UInt64, length: UInt64, keepSize: Bool, context: OperationContext
    ) async throws {
        try await onPrimary(file, context: context) { member, handle, stamped in
            try await children[member].allocate(handle, at: offset, length: length, keepSize: keepSize, context: stamped)
        }
    }

    public func discard(_ file: OpenFile, at offset: UInt64, length: UInt64, context: OperationContext) async throws {
        try await onPrimary(file, context: context) { member, handle, stamped in
            try await children[member].discard(handle, at: offset, length: length, context: stamped)
        }
    }

    public func zeroFill(_ file: OpenFile, at offset: UInt64, length: UInt64, context: OperationContext) async throws {
        try await onPrimary(file, context: context) { member, handle, stamped in
            try await children[member].zeroFill(handle, at: offset, length: length, context: stamped)
        }
    }

    public func seek(_ file: OpenFile, from offset: UInt64, to target: SeekTarget, context: OperationContext)
        async throws -> UInt64
    {
        try await onPrimary(file, context: context) { member, handle, stamped in
            try await children[member].seek(handle, from: offset, to: target, context: stamped)
        }
    }

    public func lock(_ file: OpenFile, _ request: LockRequest, wait: Bool, context: OperationContext) async throws {
        try await onPrimary(file, context: context) { member, handle, stamped in
            try await children[member].lock(handle, request, wait: wait, context: stamped)
        }
    }

    public func testLock(_ file: OpenFile, _ request: LockRequest, context: OperationContext) async throws
        -> LockRequest?
    {
        try await onPrimary(file, context: context) { member, handle, stamped in
            try await children[member].testLock(handle, request, context: stamped)
        }
    }

    public func unlink(_ name: String, in parent: FileID, context: OperationContext) async throws {
        var retry = false
        try await run(.namespace, context: context) { member, stamped in
            defer { retry = true }
            do {
                try await children[member].unlink(name, in: parent, context: stamped)
            } catch let error as FileSystemError where error.code == .notFound && retry {
                // The first try removed it before its member failed.
            }
        }
    }

    public func makeDirectory(
        _ name: String, in parent: FileID, id: FileID, permissions: UInt32, context: OperationContext
    ) async throws -> FileAttributes {
        try await run(.namespace, context: context) { member, stamped in
            do {
                return try await children[member].makeDirectory(
                    name, in: parent, id: id, permissions: permissions, context: stamped)
            } catch let error as FileSystemError where error.code == .exists {
                return try await Self.madeByThisCall(name, in: parent, id: id, on: children[member], stamped, error)
            }
        }
    }

    public func removeDirectory(_ name: String, in parent: FileID, context: OperationContext) async throws {
        var retry = false
        try await run(.namespace, context: context) { member, stamped in
            defer { retry = true }
            do {
                try await children[member].removeDirectory(name, in: parent, context: stamped)
            } catch let error as FileSystemError where error.code == .notFound && retry {
                // The first try removed it before its member failed.
            }
        }
    }

    public func readDirectory(_ directory: FileID, after cookie: UInt64, countMax: Int, context: OperationContext)
        async throws -> DirectoryPage
    {
        try await run(.primary(of: directory), context: context) { member, stamped in
            try await children[member].readDirectory(directory, after: cookie, countMax: countMax, context: stamped)
        }
    }

    public func rename(
        _ name: String, in parent: FileID, to newName: String, in newParent: FileID, flags: RenameFlags,
        context: OperationContext
    ) async throws {
        try await run(.namespace, context: context) { member, stamped in
            try await children[member].rename(name, in: parent, to: newName, in: newParent, flags: flags, context: stamped)
        }
    }

    public func link(_ file: FileID, as name: String, in parent: FileID, context: OperationContext) async throws
        -> FileAttributes
    {
        try await run(.namespace, context: context) { member, stamped in
            do {
                return try await children[member].link(file, as: name, in: parent, context: stamped)
            } catch let error as FileSystemError where error.code == .exists {
                return try await Self.madeByThisCall(name, in: parent, id: file, on: children[member], stamped, error)
            }
        }
    }

    public func makeSymbolicLink(
        _ name: String, in parent: FileID, id: FileID, target: String, context: OperationContext
    ) async throws -> FileAttributes {
        try await run(.namespace, context: context) { member, stamped in
            do {
                return try await children[member].makeSymbolicLink(
                    name, in: parent, id: id, target: target, context: stamped)
            } catch let error as FileSystemError where error.code == .exists {
                return try await Self.madeByThisCall(name, in: parent, id: id, on: children[member], stamped, error)
            }
        }
    }

    public func readSymbolicLink(_ file: FileID, context: OperationContext) async throws -> String {
        try await run(.primary(of: file), context: context) { member, stamped in
            try await children[member].readSymbolicLink(file, context: stamped)
        }
    }

    public func makeNode(
        _ name: String, in parent: FileID, id: FileID, type: FileType, permissions: UInt32, device: UInt64,
        context: OperationContext
    ) async throws -> FileAttributes {
        try await run(.namespace, context: context) { member, stamped in
            do {
                return try await children[member].makeNode(
                    name, in: parent, id: id, type: type, permissions: permissions, device: device, context: stamped)
            } catch let error as FileSystemError where error.code == .exists {
                return try await Self.madeByThisCall(name, in: parent, id: id, on: children[member], stamped, error)
            }
        }
    }

    public func fileSystemStatistics(context: OperationContext) async throws -> FileSystemStatistics {
        try await run(.namespace, context: context) { member, stamped in
            try await children[member].fileSystemStatistics(context: stamped)
        }
    }

    public func extendedAttribute(_ name: String, of file: FileID, context: OperationContext) async throws -> [UInt8] {
        try await run(.primary(of: file), context: context) { member, stamped in
            try await children[member].extendedAttribute(name, of: file, context: stamped)
        }
    }

    public func setExtendedAttribute(
        _ name: String, to value: [UInt8], mode: ExtendedAttributeMode, of file: FileID, context: OperationContext
    ) async throws {
        try await run(.primary(of: file), context: context) { member, stamped in
            try await children[member].setExtendedAttribute(name, to: value, mode: mode, of: file, context: stamped)
        }
    }

    public func extendedAttributeNames(of file: FileID, context: OperationContext) async throws -> [String] {
        try await run(.primary(of: file), context: context) { member, stamped in
            try await children[member].extendedAttributeNames(of: file, context: stamped)
        }
    }

    public func removeExtendedAttribute(_ name: String, of file: FileID, context: OperationContext) async throws {
        try await run(.primary(of: file), context: context) { member, stamped in
            try await children[member].removeExtendedAttribute(name, of: file, context: stamped)
        }
    }

    /// A rebalance's fence goes to the file's primary, which every open of the file goes to; every other control
    /// message goes to one brick through its protocol client, never through a volume's client stack.
    public func control(_ request: ControlRequest, context: OperationContext) async throws -> ControlReply {
        switch request {
        case .fence(let file), .unfence(let file):
            return try await run(.primary(of: file), context: context) { member, stamped in
                try await children[member].control(request, context: stamped)
            }
        case .heal, .recordMissed, .reconcile, .settleBarrier, .installView, .memberStatus, .metrics, .profile, .top,
            .clients:
            throw FileSystemError.notAReplicaMember(request, "the replicate layer")
        }
    }

    /// EEXIST on a retry after a failover: the name holds the object this very call made (same FileID).
    static func madeByThisCall(
        _ name: String, in parent: FileID, id: FileID, on member: any FileOperations, _ context: OperationContext,
        _ error: FileSystemError
    ) async throws -> FileAttributes {
        // A failure to look is not a match: the original EEXIST is reported.
        guard let existing = try? await member.lookup(name, in: parent, context: context), existing.id == id else {
            throw error
        }
        return existing
    }
}
