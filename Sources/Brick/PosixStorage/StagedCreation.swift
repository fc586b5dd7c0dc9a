import CMortarLinux
import Glibc
import Logging
import MortarCore
import Synchronization

/// New objects get their names complete.
///
/// A file, directory, symbolic link or node is made in `.mortar/staging` under a private name, given its FileID,
/// owner and exact mode there, and only then renamed to its name with RENAME_NOREPLACE, which fails with EEXIST
/// when the name is taken. Made in place, the object was visible for a moment without its FileID: a lookup in that
/// moment (another client, a replica's retry arriving beside the forward it repeats) adopted it under a fresh
/// FileID, the creator's own FileID then counted as in use, and its cleanup removed the name the lookup had just
/// returned — a replica set's copies could disagree on an object's FileID, and a client's create could fail with
/// EEXIST for a name nobody else made.
///
/// Invariants:
/// - A name on the brick never leads to an object without a FileID that a creation is still working on.
/// - The index entry follows the name. A lookup in between finds the FileID without an entry and restores the
///   entry itself (``HandleIndex/identify(_:status:parent:name:_:)``); the creator accepts an entry that leads to
///   its own object. A crash in between is repaired the same way by the next lookup.
/// - Staging holds only objects under creation: a crash leaves them there under no name, and opening the index
///   removes them (``HandleIndex/openStaging(in:_:_:)``).
extension PosixStorage {
    /// A fresh private name in the staging directory.
    func stagedObject(for id: FileID) -> ObjectPath {
        let serial = Self.stagedSerial.add(1, ordering: .relaxed).oldValue
        return ObjectPath(directory: index.stagingDescriptor, name: "\(id).\(serial)")
    }

    private static let stagedSerial = Atomic<UInt64>(0)

    /// Gives the object made at `staged` (open as `descriptor`, for files) its FileID, owner and exact permissions
    /// (the brick's umask must not change what the client asked for; group and set-group-ID follow the parent:
    /// ``creationOwnership(of:in:permissions:context:)``), then the name `entry` and its index entry. Returns nil
    /// when the name is taken, with the staged object removed; on any failure nothing is left behind. A
    /// `permissions` of nil is for symbolic links, whose mode cannot be changed.
    func place(
        _ staged: ObjectPath, at entry: EntryLocation, id: FileID, type: FileType, permissions: UInt32?,
        descriptor: Int32?, context: OperationContext
    ) throws -> FileAttributes? {
        let object = descriptor.map { ObjectPath(directory: $0, name: nil) } ?? staged
        do {
            let (groupID, mode) = try creationOwnership(
                of: type, in: entry, permissions: permissions ?? 0, context: context)
            try SystemCall.setFileID(id, at: object, entry.subject)
            try SystemCall.changeOwner(object, userID: context.userID, groupID: groupID, entry.subject)
            if type != .symbolicLink { try SystemCall.changePermissions(object, mode & 0o7777, entry.subject) }
            try SystemCall.rename(staged, to: entry.object, flags: UInt32(cmortar_rename_noreplace), entry.subject)
        } catch let error as FileSystemError {
            // Cleanup on the way out: the creation's error (or "taken") is what the caller hears.
            try? SystemCall.remove(staged, isDirectory: type == .directory, entry.subject)
            if error.code == .exists { return nil }  // only the rename can find something there
            throw error
        }
        // Named now: from here a failure must take the name back, and only if it still leads to this object.
        let named = object.name == nil ? object : entry.object
        do {
            try addIndexEntry(for: named, at: entry, id: id, isDirectory: type == .directory)
            return try FileAttributes(status: SystemCall.lstat(named, entry.subject), id: id)
        } catch {
            if let made = try? SystemCall.lstat(named, entry.subject),
                let there = try? SystemCall.lstat(entry.object, entry.subject),
                made.st_ino == there.st_ino, made.st_dev == there.st_dev
            {
                // Cleanup on the way out, as above.
                try? SystemCall.remove(entry.object, isDirectory: type == .directory, entry.subject)
            }
            throw error
        }
    }

    /// The new object's index entry; one already there is accepted when it leads to this object (a lookup that
    /// ran between the rename and this restored it). Any other holder of the FileID is EEXIST.
    private func addIndexEntry(for object: ObjectPath, at entry: EntryLocation, id: FileID, isDirectory: Bool) throws {
        do {
            if isDirectory {
                try index.addDirectoryEntry(id: id, parent: entry.parent.id, name: entry.name)
            } else if object.name == nil {
                try index.addEntry(descriptor: object.directory, id: id, entry.subject)
            } else {
                try index.addEntry(linking: object, id: id, entry.subject)
            }
        } catch let error as FileSystemError where error.code == .exists {
            let indexed = index.entry(of: id)
            let subject = "index entry of FileID \(id)"
            if isDirectory {
                let target = try SystemCall.readLink(indexed, subject)
                if target == HandleIndex.directoryEntryTarget(parent: entry.parent.id, name: entry.name) { return }
            } else {
                let mine = try SystemCall.lstat(object, entry.subject)
                let theirs = try SystemCall.lstat(indexed, subject)
                if mine.st_ino == theirs.st_ino && mine.st_dev == theirs.st_dev { return }
            }
            throw FileSystemError(.exists, "FileID \(id) for \(entry.subject) is already in use on this brick")
        }
    }

}

extension SystemCall {
    /// Removes a name: a directory's (empty) or any other object's.
    static func remove(_ object: ObjectPath, isDirectory: Bool, _ subject: String) throws {
        if isDirectory {
            try removeDirectory(object, subject)
        } else {
            try unlink(object, subject)
        }
    }
}

extension HandleIndex {
    /// Opens `.mortar/staging` (O_PATH), making it if missing and emptying it: whatever is there was being
    /// created when the brick stopped, never had a name, and was never acknowledged.
    static func openStaging(in hidden: Int32, _ subject: String, _ logger: Logger) throws -> Int32 {
        let staging = ObjectPath(directory: hidden, name: "staging")
        try SystemCall.makeDirectoryIfMissing(staging, subject)
        let listing = try SystemCall.open(staging, flags: O_RDONLY | O_DIRECTORY | O_NOFOLLOW, subject)
        guard let stream = fdopendir(listing) else {
            let error = FileSystemError.fromErrno("fdopendir", subject)
            SystemCall.close(listing)
            throw error
        }
        defer { closedir(stream) }
        var removed = 0
        while true {
            errno = 0
            guard let record = readdir(stream) else {
                guard errno == 0 else { throw FileSystemError.fromErrno("readdir", subject) }
                break
            }
            let name = withUnsafePointer(to: record.pointee.d_name) { pointer in
                pointer.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
            }
            if name == "." || name == ".." { continue }
            let object = ObjectPath(directory: dirfd(stream), name: name)
            do {
                try SystemCall.unlink(object, "\(subject)/\(name)")
            } catch let error as FileSystemError where error.code == .isDirectory {
                try SystemCall.removeDirectory(object, "\(subject)/\(name)")  // staged directories are empty
            }
            removed += 1
        }
        if removed > 0 {
            logger.info("removed objects whose creation a stop interrupted", metadata: ["count": "\(removed)"])
        }
        return try SystemCall.open(staging, flags: cmortar_o_path | O_DIRECTORY | O_NOFOLLOW, subject)
    }
}
