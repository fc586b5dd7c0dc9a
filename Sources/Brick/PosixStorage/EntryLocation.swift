import Glibc
import MortarCore

/// A name in a directory, resolved to the directory's open descriptor.
struct EntryLocation: Sendable {
    let parent: Location
    let name: String
    /// The entry relative to its parent's descriptor.
    var object: ObjectPath { ObjectPath(directory: parent.directoryDescriptor, name: name) }
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
    /// Validates `name`, resolves it in directory `parent` (ENOTDIR when `parent` is not a directory) and runs
    /// `body` with it; the parent's descriptor is closed afterwards.
    func withEntry<Result>(
        _ name: String, in parent: FileID, use: NameUse, _ body: (EntryLocation) throws -> Result
    ) throws -> Result {
        try EntryName.validate(name)
        if parent == .root, name == HandleIndex.hiddenName {
            switch use {
            case .find: throw FileSystemError.notFound("no entry '\(name)' in /")
            case .create:
                throw FileSystemError(.operationNotPermitted, "'\(name)' is a reserved name in the volume root")
            }
        }
        return try index.withLocation(parent) { directory in
            guard directory.isDirectory else {
                throw FileSystemError(.notDirectory, "\(directory.subject) is not a directory")
            }
            return try body(Self.entry(name, in: directory))
        }
    }

    /// `name` in an already open directory.
    static func entry(_ name: String, in directory: Location) -> EntryLocation {
        let subject = directory.subject == "/" ? "/" + name : directory.subject + "/" + name
        return EntryLocation(parent: directory, name: name, subject: subject)
    }

    /// The attributes of an entry, adopting it (FileID and index entry) if an administrator created it.
    func describe(_ entry: EntryLocation) throws -> FileAttributes {
        var status = try SystemCall.lstat(entry.object, entry.subject)
        let (id, linked) = try index.identify(
            entry.object, status: status, parent: entry.parent.id, name: entry.name, entry.subject)
        if linked { status = try SystemCall.lstat(entry.object, entry.subject) }
        return try FileAttributes(status: status, id: id)
    }

    /// The attributes of an object found by FileID.
    func describe(_ location: Location) throws -> FileAttributes {
        try FileAttributes(status: SystemCall.lstat(location.object, location.subject), id: location.id)
    }

    /// The group and permissions a new object gets from its parent directory, as the kernel would give them to a
    /// client creating it locally (the brick creates as root, in its own group): see
    /// ``AccessPolicy/ownership(ofNew:permissions:in:context:)``.
    func creationOwnership(
        of type: FileType, in entry: EntryLocation, permissions: UInt32, context: OperationContext
    ) throws -> (groupID: UInt32, permissions: UInt32) {
        let directory = try FileAttributes(
            status: SystemCall.lstat(entry.parent.object, entry.parent.subject), id: entry.parent.id)
        return AccessPolicy.ownership(ofNew: type, permissions: permissions & 0o7777, in: directory, context: context)
    }
}
