import Glibc
import MortarCore

/// A name in a directory, resolved to a brick path.
struct EntryLocation: Sendable {
    let parent: Location
    let name: String
    /// The absolute brick path of the entry.
    let path: String
    /// The volume-relative path, for error messages.
    let subject: String
}

/// Why a name is being resolved: to find an existing entry, or to create or rename one. The hidden `.mortar` in
/// the root does not exist for the first and is forbidden for the second.
enum NameUse {
    case find
    case create
}

extension PosixStorage {
    /// Validates `name` and resolves it in directory `parent` (ENOTDIR when `parent` is not a directory).
    func entry(_ name: String, in parent: FileID, use: NameUse) throws -> EntryLocation {
        try EntryName.validate(name)
        if parent == .root, name == HandleIndex.hiddenName {
            switch use {
            case .find: throw FileSystemError.notFound("no entry '\(name)' in /")
            case .create:
                throw FileSystemError(.operationNotPermitted, "'\(name)' is a reserved name in the volume root")
            }
        }
        let directory = try index.locate(parent)
        guard directory.isDirectory else {
            throw FileSystemError(.notDirectory, "\(directory.subject) is not a directory")
        }
        let subject = directory.subject == "/" ? "/" + name : directory.subject + "/" + name
        return EntryLocation(parent: directory, name: name, path: directory.path + "/" + name, subject: subject)
    }

    /// The attributes of an entry, adopting it (FileID and index entry) if an administrator created it.
    func describe(_ entry: EntryLocation) throws -> FileAttributes {
        var status = try SystemCall.lstat(entry.path, entry.subject)
        let (id, linked) = try index.identify(
            entry.path, status: status, parent: entry.parent.id, name: entry.name, entry.subject)
        if linked { status = try SystemCall.lstat(entry.path, entry.subject) }
        return try FileAttributes(status: status, id: id)
    }

    /// The attributes of an object found by FileID.
    func describe(_ location: Location) throws -> FileAttributes {
        try FileAttributes(status: SystemCall.lstat(location.path, location.subject), id: location.id)
    }

    /// Gives a newly made object its FileID, index entry, owner and exact permissions (the brick process's umask
    /// must not change what the client asked for), removing it again if any step fails so that no half-made object
    /// is left behind. `permissions` is nil for symbolic links, whose mode cannot be changed. The group and
    /// set-group-ID bit follow the parent directory (``creationOwnership(of:in:permissions:context:)``).
    func finishCreation(
        of entry: EntryLocation, id: FileID, type: FileType, permissions: UInt32?, context: OperationContext
    ) throws -> FileAttributes {
        let isDirectory = type == .directory
        var indexed = false
        do {
            let (groupID, permissions) = try creationOwnership(
                of: type, in: entry, permissions: permissions ?? 0, context: context)
            try SystemCall.setFileID(id, at: entry.path, entry.subject)
            if isDirectory {
                try index.addDirectoryEntry(id: id, parent: entry.parent.id, name: entry.name)
            } else {
                try index.addEntry(linking: entry.path, id: id, entry.subject)
            }
            indexed = true
            try SystemCall.changeOwner(entry.path, userID: context.userID, groupID: groupID, entry.subject)
            if type != .symbolicLink { try SystemCall.changePermissions(entry.path, permissions & 0o7777, entry.subject) }
            return try FileAttributes(status: SystemCall.lstat(entry.path, entry.subject), id: id)
        } catch let error as FileSystemError {
            // Cleanup on the way out: the creation's error is the one to report.
            if indexed { try? index.removeEntry(of: id) }
            if isDirectory { try? SystemCall.removeDirectory(entry.path, entry.subject) }
            else { try? SystemCall.unlink(entry.path, entry.subject) }
            if error.code == .exists {
                throw FileSystemError(.exists, "FileID \(id) for \(entry.subject) is already in use on this brick")
            }
            throw error
        }
    }

    /// The group and permissions a new object gets from its parent directory, as the kernel would give them to a
    /// client creating it locally (the brick creates as root, in its own group): see
    /// ``AccessPolicy/ownership(ofNew:permissions:in:context:)``.
    func creationOwnership(
        of type: FileType, in entry: EntryLocation, permissions: UInt32, context: OperationContext
    ) throws -> (groupID: UInt32, permissions: UInt32) {
        let directory = try FileAttributes(
            status: SystemCall.lstat(entry.parent.path, entry.parent.subject), id: entry.parent.id)
        return AccessPolicy.ownership(ofNew: type, permissions: permissions & 0o7777, in: directory, context: context)
    }
}
