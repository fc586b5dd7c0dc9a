import MortarCore
import MortarTransport
import MortarWire
import Synchronization
import NIOCore

extension ProtocolClient {
    public func lookup(_ name: String, in parent: FileID, context: OperationContext) async throws -> FileAttributes {
        try await perform(.lookup(name: name, parent: parent), context: context).attributes()
    }

    public func attributes(of file: FileID, context: OperationContext) async throws -> FileAttributes {
        try await perform(.attributes(file), context: context).attributes()
    }

    public func attributes(ofOpen file: OpenFile, context: OperationContext) async throws -> FileAttributes {
        try await perform(on: file, context: context) { .attributesOfOpen($0) }.attributes()
    }

    public func setAttributes(_ changes: AttributeChanges, of file: FileID, context: OperationContext) async throws
        -> FileAttributes
    {
        try await perform(.setAttributes(changes, file), context: context).attributes()
    }

    public func checkAccess(_ mask: AccessMask, to file: FileID, context: OperationContext) async throws {
        try await perform(.checkAccess(mask, file), context: context).none()
    }

    public func create(
        _ name: String, in parent: FileID, id: FileID, permissions: UInt32, flags: OpenFlags,
        context: OperationContext
    ) async throws -> CreatedFile {
        let request = Request.create(name: name, parent: parent, id: id, permissions: permissions, flags: flags)
        let (reply, file) = try await performOpening(request, flags: flags, context: context)
        return CreatedFile(file: file, attributes: try reply.created().attributes)
    }

    public func open(_ file: FileID, flags: OpenFlags, context: OperationContext) async throws -> OpenFile {
        try await performOpening(.open(file, flags: flags), flags: flags, context: context).1
    }

    public func openAndRead(_ file: FileID, flags: OpenFlags, count: Int, context: OperationContext) async throws
        -> OpenedFile
    {
        try Self.checkOpenAndRead(flags: flags, count: count)
        let (reply, opened) = try await performOpening(
            .openAndRead(file, flags: flags, count: UInt32(count)), flags: flags, context: context)
        let head = try reply.openedWithHead().head
        guard head.readableBytes <= count else {
            throw await refusing(opened, "an open-and-read of \(count) bytes with \(head.readableBytes)", context)
        }
        return OpenedFile(file: opened, head: head)
    }

    public func lookupAndRead(
        _ name: String, in parent: FileID, flags: OpenFlags, count: Int, context: OperationContext
    ) async throws -> FoundFile {
        try Self.checkOpenAndRead(flags: flags, count: count)
        let (connection, generation) = try await currentConnection()
        let request = Request.lookupAndRead(name: name, parent: parent, flags: flags, count: UInt32(count))
        let found = try await connection.call(request, credentials: WireCredentials(context), watch: context.replyWatch)
            .found()
        guard let opened = found.opened else { return found }
        let file = registerOpenFile(opened.file, flags: flags, generation: generation)
        guard opened.head.readableBytes <= count, opened.file.id == found.attributes.id else {
            let answer = "\(opened.head.readableBytes) bytes of \(opened.file.id) for \(found.attributes.id)"
            throw await refusing(file, "a lookup-and-read of \(count) bytes with \(answer)", context)
        }
        return FoundFile(attributes: found.attributes, opened: OpenedFile(file: file, head: opened.head))
    }

    /// Refuses a brick's answer to an open that returns file bytes: the caller sized its memory for the count it
    /// asked for, so more is never trusted. The handle registered for the answer is released.
    private func refusing(_ file: OpenFile, _ answer: String, _ context: OperationContext) async -> FileSystemError {
        try? await release(file, context: context)  // just registered, seen by nobody: its release cannot matter
        return FileSystemError.protocolError("brick \(endpoint) answered \(answer)")
    }

    public func release(_ file: OpenFile, context: OperationContext) async throws {
        let removed = state.withLock { state -> (OpenState, BrickConnection?, UInt64)? in
            guard let open = state.files.removeValue(forKey: file.handle) else { return nil }
            return (open, state.connection, state.generation)
        }
        guard let (open, connection, generation) = removed else {
            throw FileSystemError(.badFileHandle, "file handle \(file.handle) is not open")
        }
        // A handle from a replaced connection was already released by the brick when that connection went.
        guard open.generation == generation, let connection, connection.isActive else { return }
        let remote = OpenFile(id: open.id, handle: open.remoteHandle)
        // The release's answer changes nothing here (the handle is gone either way), so it is not waited for —
        // one round trip less for every close — unless the file held locks: its locks go with the release, and a
        // lock this client asks for next must not find them still held.
        guard open.holdsLocks else {
            await connection.post(.release(remote), credentials: WireCredentials(context))
            return
        }
        try await connection.call(.release(remote), credentials: WireCredentials(context), watch: context.replyWatch)
            .none()
    }

    public func read(from file: OpenFile, at offset: UInt64, count: Int, context: OperationContext) async throws
        -> ByteBuffer
    {
        guard count >= 0, count <= Limits.ioByteCountMax else {
            throw FileSystemError.invalidArgument("read of \(count) bytes; one request carries 0…\(Limits.ioByteCountMax)")
        }
        if let local = await localRead(of: file, context: context),
            let data = try await readLocally(local, of: file, at: offset, count: count)
        {
            return data
        }
        let data = try await perform(on: file, context: context) {
            .read($0, offset: offset, count: UInt32(count))
        }.data()
        // Callers copy the reply into memory sized for `count` (the drop-in's C buffers): a brick that answers
        // with more is refused here, never trusted.
        guard data.readableBytes <= count else {
            throw FileSystemError.protocolError(
                "brick \(endpoint) answered a read of \(count) bytes with \(data.readableBytes)")
        }
        return data
    }

    public func grantLocalRead(of file: OpenFile, context: OperationContext) async throws -> LocalReadGrant {
        try await perform(on: file, context: context) { .grantLocalRead($0) }.localReadGrant()
    }

    public func write(_ data: ByteBuffer, to file: OpenFile, at offset: UInt64, context: OperationContext)
        async throws -> Int
    {
        guard data.readableBytes <= Limits.ioByteCountMax else {
            throw FileSystemError.invalidArgument(
                "write of \(data.readableBytes) bytes; one request carries at most \(Limits.ioByteCountMax)")
        }
        let written = try await perform(on: file, context: context) { .write($0, offset: offset, data: data) }.number()
        guard written <= UInt64(data.readableBytes) else {
            throw FileSystemError.protocolError(
                "brick \(endpoint) says it wrote \(written) bytes of \(data.readableBytes)")
        }
        return Int(written)
    }

    public func truncate(_ file: OpenFile, to size: UInt64, context: OperationContext) async throws {
        try await perform(on: file, context: context) { .truncate($0, size: size) }.none()
    }

    public func synchronize(_ file: OpenFile, dataOnly: Bool, context: OperationContext) async throws {
        try await perform(on: file, context: context) { .synchronize($0, dataOnly: dataOnly) }.none()
    }

    /// Answered here, without a round trip: a brick's flush only checks that the handle is open (its storage
    /// holds nothing back), and every write of the file this client sent was answered before the flush came down
    /// (a write returns with its reply; write-behind lands a file's writes before passing a flush on). The mount
    /// flushes on every close, so this is one exchange less per file a program closes there.
    public func flush(_ file: OpenFile, context: OperationContext) async throws {
        guard state.withLock({ $0.files[file.handle]?.id == file.id }) else {
            throw FileSystemError(.badFileHandle, "file handle \(file.handle) is not open")
        }
    }

    public func allocate(
        _ file: OpenFile, at offset: UInt64, length: UInt64, keepSize: Bool, context: OperationContext
    ) async throws {
        try await perform(on: file, context: context) {
            .allocate($0, offset: offset, length: length, keepSize: keepSize)
        }.none()
    }

    public func discard(_ file: OpenFile, at offset: UInt64, length: UInt64, context: OperationContext) async throws {
        try await perform(on: file, context: context) { .discard($0, offset: offset, length: length) }.none()
    }

    public func zeroFill(_ file: OpenFile, at offset: UInt64, length: UInt64, context: OperationContext) async throws {
        try await perform(on: file, context: context) { .zeroFill($0, offset: offset, length: length) }.none()
    }

    public func seek(_ file: OpenFile, from offset: UInt64, to target: SeekTarget, context: OperationContext)
        async throws -> UInt64
    {
        try await perform(on: file, context: context) { .seek($0, offset: offset, target: target) }.number()
    }

    public func lock(_ file: OpenFile, _ request: LockRequest, wait: Bool, context: OperationContext) async throws {
        try await perform(on: file, context: context) { .lock($0, request, wait: wait) }.none()
        if request.kind != .unlock {
            state.withLock { $0.files[file.handle]?.holdsLocks = true }
        }
    }

    public func testLock(_ file: OpenFile, _ request: LockRequest, context: OperationContext) async throws
        -> LockRequest?
    {
        try await perform(on: file, context: context) { .testLock($0, request) }.lock()
    }
}
