import CMortarLinux
import Glibc
import Logging
import MortarCore

extension PosixStorage {
    /// Removes a name; when only the index still links the file, its index entry goes too. Open handles keep
    /// working through their descriptors.
    public func unlink(_ name: String, in parent: FileID, context: OperationContext) async throws {
        try await run { [self] in
            try withEntry(name, in: parent, use: .find) { entry in
                let status = try SystemCall.lstat(entry.object, entry.subject)
                guard status.st_mode & S_IFMT != S_IFDIR else {
                    throw FileSystemError(.isDirectory, "cannot unlink \(entry.subject): it is a directory")
                }
                let id = try SystemCall.fileID(at: entry.object, entry.subject)
                try SystemCall.unlink(entry.object, entry.subject)
                if let id { try index.removeEntryIfLastLink(of: id) }
                logger.debug("unlinked", metadata: ["path": "\(entry.subject)"])
            }
        }
    }

    public func makeDirectory(
        _ name: String, in parent: FileID, id: FileID, permissions: UInt32, context: OperationContext
    ) async throws -> FileAttributes {
        try await run { [self] in
            try withEntry(name, in: parent, use: .create) { entry in
                let staged = stagedObject(for: id)
                try SystemCall.makeDirectory(staged, permissions: 0o700, entry.subject)
                logger.debug("made directory", metadata: ["path": "\(entry.subject)", "id": "\(id)"])
                return try placeOrTaken(staged, at: entry, id: id, type: .directory, permissions: permissions, context: context)
            }
        }
    }

    public func removeDirectory(_ name: String, in parent: FileID, context: OperationContext) async throws {
        try await run { [self] in
            try withEntry(name, in: parent, use: .find) { entry in
                let status = try SystemCall.lstat(entry.object, entry.subject)
                guard status.st_mode & S_IFMT == S_IFDIR else {
                    throw FileSystemError(
                        .notDirectory, "cannot remove \(entry.subject) as a directory: it is not one")
                }
                let id = try SystemCall.fileID(at: entry.object, entry.subject)
                try SystemCall.removeDirectory(entry.object, entry.subject)
                if let id { try index.removeEntry(of: id) }
                logger.debug("removed directory", metadata: ["path": "\(entry.subject)"])
            }
        }
    }

    /// Renames with `renameat2`, then keeps the index right: a moved directory's entry is rewritten, a replaced
    /// target loses its entry once its last name is gone.
    public func rename(
        _ name: String, in parent: FileID, to newName: String, in newParent: FileID, flags: RenameFlags,
        context: OperationContext
    ) async throws {
        try await run { [self] in
            try withEntry(name, in: parent, use: .create) { source in
                try withEntry(newName, in: newParent, use: .create) { target in
                    try rename(source, to: target, flags: flags)
                }
            }
        }
    }

    /// The rename itself, with both parent directories open.
    private func rename(_ source: EntryLocation, to target: EntryLocation, flags: RenameFlags) throws {
        let (name, parent, newName, newParent) = (source.name, source.parent.id, target.name, target.parent.id)
        let sourceStatus = try SystemCall.lstat(source.object, source.subject)
        let sourceID = try index.identify(
            source.object, status: sourceStatus, parent: parent, name: name, source.subject).id
        let replaced = try existingObject(at: target)
        var systemFlags: UInt32 = 0
        if flags.contains(.noReplace) { systemFlags |= UInt32(cmortar_rename_noreplace) }
        if flags.contains(.exchange) { systemFlags |= UInt32(cmortar_rename_exchange) }
        let subject = "\(source.subject) to \(target.subject)"
        try SystemCall.rename(source.object, to: target.object, flags: systemFlags, subject)
        logger.debug("renamed", metadata: ["from": "\(source.subject)", "to": "\(target.subject)"])
        if sourceStatus.st_mode & S_IFMT == S_IFDIR {
            try index.rewriteDirectoryEntry(id: sourceID, parent: newParent, name: newName)
        }
        guard let replaced, replaced.id != sourceID else { return }
        if flags.contains(.exchange) {
            if replaced.isDirectory { try index.rewriteDirectoryEntry(id: replaced.id, parent: parent, name: name) }
        } else if replaced.isDirectory {
            try index.removeEntry(of: replaced.id)
        } else {
            try index.removeEntryIfLastLink(of: replaced.id)
        }
    }

    /// A new name for an existing file. Directories cannot be hard-linked.
    public func link(_ file: FileID, as name: String, in parent: FileID, context: OperationContext) async throws
        -> FileAttributes
    {
        try await run { [self] in
            try index.withLocation(file) { location in
                guard !location.isDirectory else {
                    throw FileSystemError(.operationNotPermitted, "cannot hard-link directory \(location.subject)")
                }
                try withEntry(name, in: parent, use: .create) { entry in
                    try SystemCall.link(location.object, to: entry.object, entry.subject)
                }
                return try describe(location)
            }
        }
    }

    public func makeSymbolicLink(
        _ name: String, in parent: FileID, id: FileID, target: String, context: OperationContext
    ) async throws -> FileAttributes {
        try await run { [self] in
            try withEntry(name, in: parent, use: .create) { entry in
                let staged = stagedObject(for: id)
                try SystemCall.symbolicLink(target: target, at: staged, entry.subject)
                return try placeOrTaken(staged, at: entry, id: id, type: .symbolicLink, permissions: nil, context: context)
            }
        }
    }

    public func readSymbolicLink(_ file: FileID, context: OperationContext) async throws -> String {
        try await run(inline: metadataLane, "symbolic link \(file)") { [self] in
            try index.withLocation(file) { location in
                guard !location.isDirectory else {
                    throw FileSystemError.invalidArgument("\(location.subject) is a directory, not a symbolic link")
                }
                return try SystemCall.readLink(location.object, location.subject)
            }
        }
    }

    /// Makes a FIFO, socket, empty regular file or device node. A device node is a real one on the brick (so
    /// stat, rename, link and an administrator's `ls` see it as it is), but the brick never opens it: that would
    /// reach the brick host's device, not the client's (``open(_:flags:context:)`` refuses). Only root may ask
    /// for one; the permission layer above checks that.
    public func makeNode(
        _ name: String, in parent: FileID, id: FileID, type: FileType, permissions: UInt32, device: UInt64,
        context: OperationContext
    ) async throws -> FileAttributes {
        let deviceNumber: UInt64
        switch type {
        case .regular, .fifo, .socket: deviceNumber = 0
        case .characterDevice, .blockDevice: deviceNumber = device
        case .directory, .symbolicLink:
            throw FileSystemError.invalidArgument("makeNode cannot make a \(type) ('\(name)')")
        }
        return try await run { [self] in
            try withEntry(name, in: parent, use: .create) { entry in
                let staged = stagedObject(for: id)
                try SystemCall.makeNode(staged, mode: type.modeBits | 0o600, device: deviceNumber, entry.subject)
                return try placeOrTaken(staged, at: entry, id: id, type: type, permissions: permissions, context: context)
            }
        }
    }

    public func fileSystemStatistics(context: OperationContext) async throws -> FileSystemStatistics {
        try await run { [self] in
            var statistics = statvfs()
            _ = try SystemCall.retrying("fstatvfs", "/") { fstatvfs(index.rootDescriptor, &statistics) }
            return FileSystemStatistics(
                blockSize: UInt64(statistics.f_bsize), fragmentSize: UInt64(statistics.f_frsize),
                blocks: UInt64(statistics.f_blocks), blocksFree: UInt64(statistics.f_bfree),
                blocksAvailable: UInt64(statistics.f_bavail), files: UInt64(statistics.f_files),
                filesFree: UInt64(statistics.f_ffree), filesAvailable: UInt64(statistics.f_favail),
                fileSystemID: FileSystemIdentity.fileSystemID(UInt64(statistics.f_fsid)), flags: UInt64(statistics.f_flag),
                nameLengthMax: UInt64(statistics.f_namemax))
        }
    }

    /// ``place(_:at:id:type:permissions:descriptor:context:)`` for an object with no descriptor; a taken name is
    /// EEXIST.
    private func placeOrTaken(
        _ staged: ObjectPath, at entry: EntryLocation, id: FileID, type: FileType, permissions: UInt32?,
        context: OperationContext
    ) throws -> FileAttributes {
        guard
            let placed = try place(
                staged, at: entry, id: id, type: type, permissions: permissions, descriptor: nil, context: context)
        else { throw FileSystemError(.exists, "\(entry.subject) exists") }
        return placed
    }

    /// The FileID and kind of whatever a rename will replace or exchange, or nil when the target name is free.
    private func existingObject(at entry: EntryLocation) throws -> (id: FileID, isDirectory: Bool)? {
        let status: stat
        do {
            status = try SystemCall.lstat(entry.object, entry.subject)
        } catch let error as FileSystemError where error.code == .notFound {
            return nil
        }
        // Identified (adopted, or re-identified if it is a copy) so that cleaning up after it never touches the
        // index entry of another object.
        let id = try index.identify(
            entry.object, status: status, parent: entry.parent.id, name: entry.name, entry.subject).id
        return (id, status.st_mode & S_IFMT == S_IFDIR)
    }
}
