import CMortarLinux
import Glibc
import Logging
import MortarCore
import NIOCore
import Synchronization

extension PosixStorage {
    /// Creates and opens a regular file. Without `.exclusive`, an existing file is opened instead and keeps its own
    /// FileID and attributes.
    public func create(
        _ name: String, in parent: FileID, id: FileID, permissions: UInt32, flags: OpenFlags,
        context: OperationContext
    ) async throws -> CreatedFile {
        let (descriptor, attributes) = try await run { [self] in
            try withEntry(name, in: parent, use: .create) { entry in
                try createOrOpen(entry, id: id, permissions: permissions, flags: flags, context: context)
            }
        }
        let file = try register(descriptor, id: attributes.id, context: context)
        logger.debug("created", metadata: ["name": "\(name)", "id": "\(attributes.id)", "handle": "\(file.handle)"])
        return CreatedFile(file: file, attributes: attributes)
    }

    /// The open descriptor and attributes of a new file (made complete before it gets its name: see
    /// ``place(_:at:id:type:permissions:descriptor:context:)``), or of an existing one without `.exclusive`.
    private func createOrOpen(
        _ entry: EntryLocation, id: FileID, permissions: UInt32, flags: OpenFlags, context: OperationContext
    ) throws -> (Int32, FileAttributes) {
        let access = Self.localFlags(flags)
        let staged = stagedObject(for: id)
        let descriptor = try SystemCall.open(
            staged, flags: access | O_CREAT | O_EXCL, permissions: permissions & 0o7777, entry.subject)
        let placed: FileAttributes?
        do {
            placed = try place(
                staged, at: entry, id: id, type: .regular, permissions: permissions, descriptor: descriptor,
                context: context)
        } catch {
            SystemCall.close(descriptor)
            throw error
        }
        if let placed { return (descriptor, placed) }
        SystemCall.close(descriptor)
        guard !flags.contains(.exclusive) else { throw FileSystemError(.exists, "\(entry.subject) exists") }
        try Self.requireOpenable(try SystemCall.lstat(entry.object, entry.subject), entry.subject)
        let existing = try SystemCall.open(entry.object, flags: access, entry.subject)
        let attributes = try describeExisting(existing, entry: entry)
        try dropPrivilegesAfterTruncatingOpen(existing, flags: flags, context: context, entry.subject)
        return (existing, attributes)
    }

    /// The `open(2)` flags for a brick file. `.direct` means "no client-side caching", which Mortar's client
    /// honours by not caching; passed on, O_DIRECT would make the brick's reads and writes fail with EINVAL
    /// whenever a request's buffer or offset is not block-aligned (tgt and qemu open images O_DIRECT). Synchronous
    /// modes are kept: they make every write durable before it is acknowledged, which is what they promise.
    static func localFlags(_ flags: OpenFlags) -> Int32 {
        flags.subtracting([.create, .exclusive, .direct]).posixFlags | O_NOFOLLOW
    }

    /// Opens by FileID through the index. Directories open read-only; asking to write one is EISDIR. An open that
    /// does not truncate is metadata (``InlineLane``); one that does may free a file's blocks, and goes to the pool.
    public func open(_ file: FileID, flags: OpenFlags, context: OperationContext) async throws -> OpenFile {
        let lane = flags.contains(.truncate) ? nil : metadataLane
        let descriptor = try await run(inline: lane, "open of \(file)") { [self] in try index.withLocation(file) { location in
            if location.isDirectory {
                guard !flags.contains(.write) else {
                    throw FileSystemError(.isDirectory, "cannot open directory \(location.subject) for writing")
                }
                return try SystemCall.open(location.object, flags: O_RDONLY | O_DIRECTORY, location.subject)
            }
            var access = Self.localFlags(flags)
            let status = try SystemCall.lstat(location.object, location.subject)
            try Self.requireOpenable(status, location.subject)
            // Opening a FIFO blocks until the other end opens; a brick thread must never wait for that.
            if status.st_mode & S_IFMT == S_IFIFO { access |= O_NONBLOCK }
            let descriptor = try SystemCall.open(location.object, flags: access, location.subject)
            try dropPrivilegesAfterTruncatingOpen(descriptor, flags: flags, context: context, location.subject)
            return descriptor
        } }
        return try register(descriptor, id: file, context: context)
    }

    /// Forgets the handle. The descriptor closes once no operation still running on it holds it.
    public func release(_ file: OpenFile, context: OperationContext) async throws {
        let removed = openFiles.withLock { table -> OwnedDescriptor? in
            guard table.descriptor(for: file.handle)?.id == file.id else { return nil }
            return table.remove(file.handle)
        }
        guard removed != nil else {
            throw FileSystemError(.badFileHandle, "release of unknown handle \(file.handle) for FileID \(file.id)")
        }
    }

    public func truncate(_ file: OpenFile, to size: UInt64, context: OperationContext) async throws {
        let descriptor = try descriptor(of: file)
        try await run { [self] in
            let subject = "open file \(file.id)"
            let length = try Self.offset(size, subject)
            try dropPrivileges(of: descriptor.value, context: context, subject)
            _ = try SystemCall.retrying("ftruncate", subject) { Glibc.ftruncate(descriptor.value, length) }
        }
    }

    public func synchronize(_ file: OpenFile, dataOnly: Bool, context: OperationContext) async throws {
        let descriptor = try descriptor(of: file)
        try await run {
            _ = try SystemCall.retrying(dataOnly ? "fdatasync" : "fsync", "open file \(file.id)") {
                dataOnly ? Glibc.fdatasync(descriptor.value) : Glibc.fsync(descriptor.value)
            }
        }
    }

    /// Nothing is buffered in the storage, so there is nothing to flush; the handle must still be valid.
    public func flush(_ file: OpenFile, context: OperationContext) async throws {
        _ = try descriptor(of: file)
    }

    /// Byte-range locks are kept by the server layer above the storage, which sees every client.
    public func lock(_ file: OpenFile, _ request: LockRequest, wait: Bool, context: OperationContext) async throws {
        throw FileSystemError(.notSupported, "the brick's storage keeps no locks; the lock layer above does")
    }

    public func testLock(_ file: OpenFile, _ request: LockRequest, context: OperationContext) async throws
        -> LockRequest?
    {
        throw FileSystemError(.notSupported, "the brick's storage keeps no locks; the lock layer above does")
    }

    /// Gives a new file its FileID, index entry, owner and mode; on failure the file is removed again.
    /// The attributes of an existing file opened by `create`, adopting it if it has no FileID yet.
    func describeExisting(_ descriptor: Int32, entry: EntryLocation) throws -> FileAttributes {
        do {
            var status = try SystemCall.fstat(descriptor, entry.subject)
            let (id, linked) = try index.identify(
                entry.object, status: status, parent: entry.parent.id, name: entry.name, entry.subject)
            if linked { status = try SystemCall.fstat(descriptor, entry.subject) }
            return try FileAttributes(status: status, id: id)
        } catch {
            SystemCall.close(descriptor)
            throw error
        }
    }

    /// A device node on a brick is only a name: opening it would open the brick host's device (a client opening
    /// one through the mount opens its own; the kernel never asks the volume). ENXIO, as for a device that is
    /// not there. The check precedes the open; only root clients can make device nodes.
    static func requireOpenable(_ status: stat, _ subject: String) throws {
        let type = status.st_mode & S_IFMT
        guard type != S_IFCHR, type != S_IFBLK else {
            throw FileSystemError(.noSuchDeviceOrAddress, "\(subject) is a device node; bricks do not open devices")
        }
    }

    /// Clears the set-user-ID and set-group-ID bits that a change to the file's data by `context` clears on
    /// Linux (``AccessPolicy/permissionsAfterModification(of:by:chown:)``); the brick writes as root, whose writes
    /// keep them. One fstat per write of a non-root caller, before the data changes as in the kernel.
    /// An open with O_TRUNC modifies the file as a write does; the descriptor is closed if that fails, since the
    /// caller never sees it.
    func dropPrivilegesAfterTruncatingOpen(
        _ descriptor: Int32, flags: OpenFlags, context: OperationContext, _ subject: String
    ) throws {
        guard flags.contains(.truncate) else { return }
        do {
            try dropPrivileges(of: descriptor, context: context, subject)
        } catch {
            SystemCall.close(descriptor)
            throw error
        }
    }

    func dropPrivileges(of descriptor: Int32, context: OperationContext, _ subject: String) throws {
        guard context.userID != 0 else { return }
        let status = try SystemCall.fstat(descriptor, subject)
        guard status.st_mode & (S_ISUID | S_ISGID) != 0 else { return }
        let attributes = try FileAttributes(status: status, id: .root)
        guard let kept = AccessPolicy.permissionsAfterModification(of: attributes, by: context) else { return }
        _ = try SystemCall.retrying("fchmod", subject) { Glibc.fchmod(descriptor, kept) }
    }
}
