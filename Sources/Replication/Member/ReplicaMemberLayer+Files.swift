import MortarCore
import MortarMembership
import Synchronization
import NIOCore

/// Opening files and changing their data: ordered by the file's primary, byte ranges as sequence keys.
extension ReplicaMemberLayer {
    public func open(_ file: FileID, flags: OpenFlags, context: OperationContext) async throws -> OpenFile {
        let view = try await admit(context)
        guard context.replication.role == .client else { return try await next.open(file, flags: flags, context: context) }
        // Truncation on open is a change: the primary makes it, in order, on every member.
        let truncates = flags.contains(.truncate) && flags.contains(.write)
        if truncates { try checkPrimary(view, .file(file)) }
        let opened = try await next.open(file, flags: flags.subtracting([.truncate, .append]), context: context)
        noteClientOpen(opened, flags: flags)
        if truncates {
            do {
                try await truncate(opened, to: 0, context: context)
            } catch {
                // Cleanup on the way out: the truncation's error is the one to report.
                try? await release(opened, context: context)
                throw error
            }
        }
        return opened
    }

    public func openAndRead(_ file: FileID, flags: OpenFlags, count: Int, context: OperationContext) async throws
        -> OpenedFile
    {
        // An open that changes nothing (flags that would are refused below), and a read: admitted like both.
        _ = try await admit(context)
        let opened = try await next.openAndRead(file, flags: flags, count: count, context: context)
        if context.replication.role == .client { noteClientOpen(opened.file, flags: flags) }
        return opened
    }

    public func lookupAndRead(
        _ name: String, in parent: FileID, flags: OpenFlags, count: Int, context: OperationContext
    ) async throws -> FoundFile {
        let view = try await admit(context)
        guard context.replication.role == .client else {
            return try await next.lookupAndRead(name, in: parent, flags: flags, count: count, context: context)
        }
        // A client reads a file from its primary, which has every change it acknowledged; this member is asked
        // as the directory's primary, so it serves the file's bytes only when it is the file's primary too.
        let attributes = try await next.lookup(name, in: parent, context: context)
        guard attributes.type == .regular, orderingMember(view, .file(attributes.id)) == member else {
            return FoundFile(attributes: attributes, opened: nil)
        }
        let opened = try await next.openAndRead(attributes.id, flags: flags, count: count, context: context)
        noteClientOpen(opened.file, flags: flags)
        return FoundFile(attributes: attributes, opened: opened)
    }

    public func release(_ file: OpenFile, context: OperationContext) async throws {
        try await next.release(file, context: context)
        appendHandles.withLock { _ = $0.remove(file.handle) }
        guard backups.forgetClientHandle(file.handle) else { return }
        let backupHandles = backups.released(file.id)
        guard !backupHandles.isEmpty else { return }
        // Released before this release returns, all at once: nothing is left running after it.
        let peers = try backupHandles.map { (peer: try agent.peer($0.member), file: $0.file) }
        await withDiscardingTaskGroup { group in
            for (peer, handle) in peers {
                group.addTask {
                    // Tidying a backup's handle: a member that is gone leaves nothing to release (its
                    // connection's handles go with it), and its failure is the manager's to notice.
                    try? await peer.release(handle, context: OperationContext(logger: context.logger))
                }
            }
        }
    }

    func noteClientOpen(_ file: OpenFile, flags: OpenFlags) {
        backups.opened(file.id, handle: file.handle)
        if flags.contains(.append) { appendHandles.withLock { _ = $0.insert(file.handle) } }
    }

    public func write(_ data: ByteBuffer, to file: OpenFile, at offset: UInt64, context: OperationContext) async throws
        -> Int
    {
        if appendHandles.withLock({ $0.contains(file.handle) }) {
            return try await appendingWrite(data, to: file, context: context)
        }
        let end = offset &+ UInt64(data.readableBytes)
        return try await change(
            context, orderedBy: .file(file.id), keys: [.bytes(file.id, lower: offset, upper: max(end, offset + 1))],
            records: [.bytes(file.id, offset..<max(end, offset + 1))],
            local: { try await next.write(data, to: file, at: offset, context: context) },
            forward: { target, forwarded in
                let handle = try await self.backupHandle(of: file.id, on: target, context: forwarded)
                _ = try await self.agent.peer(target).write(data, to: handle, at: offset, context: forwarded)
            })
    }

    /// O_APPEND: the primary finds the end under a whole-file order and writes there on every member.
    private func appendingWrite(_ data: ByteBuffer, to file: OpenFile, context: OperationContext) async throws -> Int {
        let view = try await admit(context)
        try checkPrimary(view, .file(file.id))
        let ticket = await sequencer.begin([.wholeFile(file.id)])
        defer { sequencer.finish(ticket) }
        let offset = try await next.attributes(ofOpen: file, context: context).size
        let records: [HealJournal.Change] = [.bytes(file.id, offset..<offset + UInt64(max(data.readableBytes, 1)))]
        // Not applied unless its markers are written (see change(_:orderedBy:keys:records:local:forward:)).
        try await recordIntent(records, origin: member, view: view)
        let written: Int
        do {
            written = try await next.write(data, to: file, at: offset, context: context)
        } catch {
            await recordUnsettled(records, because: error)
            throw error
        }
        let sent = data.getSlice(at: data.readerIndex, length: written) ?? data
        do {
            try await forwardAndSettle(view, context: context, records: records) { target, forwarded in
                let handle = try await self.backupHandle(of: file.id, on: target, context: forwarded)
                _ = try await self.agent.peer(target).write(sent, to: handle, at: offset, context: forwarded)
            }
        } catch {
            await recordUnsettled(records, because: error)
            throw error
        }
        return written
    }

    public func truncate(_ file: OpenFile, to size: UInt64, context: OperationContext) async throws {
        try await change(
            context, orderedBy: .file(file.id), keys: [.wholeFile(file.id)], records: [.metadata(file.id)],
            local: { try await next.truncate(file, to: size, context: context) },
            forward: { target, forwarded in
                let handle = try await self.backupHandle(of: file.id, on: target, context: forwarded)
                try await self.agent.peer(target).truncate(handle, to: size, context: forwarded)
            })
    }

    /// Durable on every in-sync member before it is acknowledged.
    public func synchronize(_ file: OpenFile, dataOnly: Bool, context: OperationContext) async throws {
        try await change(
            context, orderedBy: .file(file.id), keys: [], records: [],
            local: { try await next.synchronize(file, dataOnly: dataOnly, context: context) },
            forward: { target, forwarded in
                let handle = try await self.backupHandle(of: file.id, on: target, context: forwarded)
                try await self.agent.peer(target).synchronize(handle, dataOnly: dataOnly, context: forwarded)
            })
    }

    public func allocate(
        _ file: OpenFile, at offset: UInt64, length: UInt64, keepSize: Bool, context: OperationContext
    ) async throws {
        let key: SequenceKey = keepSize ? .bytes(file.id, lower: offset, upper: offset &+ max(length, 1)) : .wholeFile(file.id)
        try await change(
            context, orderedBy: .file(file.id), keys: [key],
            records: [.bytes(file.id, offset..<offset &+ max(length, 1))],
            local: { try await next.allocate(file, at: offset, length: length, keepSize: keepSize, context: context) },
            forward: { target, forwarded in
                let handle = try await self.backupHandle(of: file.id, on: target, context: forwarded)
                try await self.agent.peer(target).allocate(
                    handle, at: offset, length: length, keepSize: keepSize, context: forwarded)
            })
    }

    public func discard(_ file: OpenFile, at offset: UInt64, length: UInt64, context: OperationContext) async throws {
        try await change(
            context, orderedBy: .file(file.id), keys: [.bytes(file.id, lower: offset, upper: offset &+ max(length, 1))],
            records: [.bytes(file.id, offset..<offset &+ max(length, 1))],
            local: { try await next.discard(file, at: offset, length: length, context: context) },
            forward: { target, forwarded in
                let handle = try await self.backupHandle(of: file.id, on: target, context: forwarded)
                try await self.agent.peer(target).discard(handle, at: offset, length: length, context: forwarded)
            })
    }

    /// Zeroing may extend the file, so it is ordered against the whole file.
    public func zeroFill(_ file: OpenFile, at offset: UInt64, length: UInt64, context: OperationContext) async throws {
        try await change(
            context, orderedBy: .file(file.id), keys: [.wholeFile(file.id)],
            records: [.bytes(file.id, offset..<offset &+ max(length, 1))],
            local: { try await next.zeroFill(file, at: offset, length: length, context: context) },
            forward: { target, forwarded in
                let handle = try await self.backupHandle(of: file.id, on: target, context: forwarded)
                try await self.agent.peer(target).zeroFill(handle, at: offset, length: length, context: forwarded)
            })
    }

    public func setAttributes(_ changes: AttributeChanges, of file: FileID, context: OperationContext) async throws
        -> FileAttributes
    {
        try await change(
            context, orderedBy: .file(file), keys: [.wholeFile(file), .name(file, "")], records: [.metadata(file)],
            local: { try await next.setAttributes(changes, of: file, context: context) },
            forward: { target, forwarded in
                _ = try await self.agent.peer(target).setAttributes(changes, of: file, context: forwarded)
            })
    }

    public func setExtendedAttribute(
        _ name: String, to value: [UInt8], mode: ExtendedAttributeMode, of file: FileID, context: OperationContext
    ) async throws {
        try await change(
            context, orderedBy: .file(file), keys: [.name(file, "xattr:" + name)], records: [.metadata(file)],
            local: { try await next.setExtendedAttribute(name, to: value, mode: mode, of: file, context: context) },
            forward: { target, forwarded in
                try await self.agent.peer(target).setExtendedAttribute(
                    name, to: value, mode: mode, of: file, context: forwarded)
            })
    }

    public func removeExtendedAttribute(_ name: String, of file: FileID, context: OperationContext) async throws {
        try await change(
            context, orderedBy: .file(file), keys: [.name(file, "xattr:" + name)], records: [.metadata(file)],
            local: { try await next.removeExtendedAttribute(name, of: file, context: context) },
            forward: { target, forwarded in
                try await self.agent.peer(target).removeExtendedAttribute(name, of: file, context: forwarded)
            })
    }
}
