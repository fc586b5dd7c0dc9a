import Glibc
import Logging
import MortarCore

/// Keeping objects that were changed by hand in the brick directory reachable: adopting objects without a FileID,
/// repairing index entries, and giving copies (`cp -a` keeps extended attributes) a FileID of their own.
extension HandleIndex {
    /// How an object's index entry relates to the object found at a path.
    private enum EntryState {
        /// The entry leads to this object.
        case current
        /// There is no entry for the FileID.
        case missing
        /// The directory was moved by hand; the entry still names its old place.
        case outdated
        /// Another object holds the FileID and its entry: this one is a copy.
        case duplicate
    }

    /// The FileID of `object`, adopting it, repairing its index entry or re-identifying a copy first
    /// as needed.
    ///
    /// `linked` says a new index hard link was made, so a link count read before the call is now one short.
    func identify(_ object: ObjectPath, status: stat, parent: FileID, name: String, _ subject: String) throws
        -> (id: FileID, linked: Bool)
    {
        let isDirectory = status.st_mode & S_IFMT == S_IFDIR
        guard let id = try SystemCall.fileID(at: object, subject) else {
            return try adopt(object, isDirectory: isDirectory, parent: parent, name: name, subject, replacing: nil)
        }
        switch try entryState(of: id, status: status, parent: parent, name: name) {
        case .current:
            return (id, false)
        case .missing:
            do {
                if isDirectory {
                    try addDirectoryEntry(id: id, parent: parent, name: name)
                } else {
                    try addEntry(linking: object, id: id, subject)
                }
            } catch let error as FileSystemError where error.code == .exists {
                // Its creator added it meanwhile (a creation names an object first, then indexes it): fine when
                // it leads here.
                guard try entryState(of: id, status: status, parent: parent, name: name) == .current else { throw error }
                return (id, !isDirectory)
            }
            // Debug, not info: between a creation's rename and its index entry this is routine, not a hand edit.
            logger.debug("restored a missing index entry", metadata: ["path": "\(subject)", "id": "\(id)"])
            return (id, !isDirectory)
        case .outdated:
            logger.info("repairing the index entry of a directory moved by hand", metadata: ["path": "\(subject)"])
            try rewriteDirectoryEntry(id: id, parent: parent, name: name)
            return (id, false)
        case .duplicate:
            return try adopt(object, isDirectory: isDirectory, parent: parent, name: name, subject, replacing: id)
        }
    }

    /// Gives the object a fresh FileID and an index entry.
    private func adopt(
        _ object: ObjectPath, isDirectory: Bool, parent: FileID, name: String, _ subject: String, replacing old: FileID?
    ) throws -> (id: FileID, linked: Bool) {
        let id = FileID.random()
        do {
            try SystemCall.setFileID(id, at: object, replacing: old != nil, subject)
        } catch let error as FileSystemError where error.code == .exists && old == nil {
            // Someone adopted it at the same moment; use theirs.
            guard let existing = try SystemCall.fileID(at: object, subject) else { throw error }
            return (existing, true)
        }
        if isDirectory {
            try addDirectoryEntry(id: id, parent: parent, name: name)
        } else {
            try addEntry(linking: object, id: id, subject)
        }
        let reason = old.map { "copy of \($0)" } ?? "made outside Mortar"
        logger.info("adopted an object", metadata: ["path": "\(subject)", "id": "\(id)", "reason": "\(reason)"])
        return (id, !isDirectory)
    }

    private func entryState(of id: FileID, status: stat, parent: FileID, name: String) throws -> EntryState {
        // The root's FileID on anything but the root (which is never an entry) is a copied brick root.
        guard id != .root else { return .duplicate }
        let entry = entry(of: id)
        let subject = "index entry of FileID \(id)"
        guard status.st_mode & S_IFMT == S_IFDIR else {
            let indexed: stat
            do {
                indexed = try SystemCall.lstat(entry, subject)
            } catch let error as FileSystemError where error.code == .notFound {
                return .missing
            }
            return indexed.st_dev == status.st_dev && indexed.st_ino == status.st_ino ? .current : .duplicate
        }
        let target: String
        do {
            target = try SystemCall.readLink(entry, subject)
        } catch let error as FileSystemError where error.code == .notFound {
            return .missing
        } catch let error as FileSystemError where error.code == .invalidArgument {
            return .duplicate  // a file holds the FileID
        }
        if target == Self.directoryEntryTarget(parent: parent, name: name) { return .current }
        // Moved by hand, or copied: a copy's original is still where the entry leads.
        // Only "not there" (ENOENT) or "leads elsewhere" (ESTALE) makes the entry outdated; any other error is
        // thrown, or the FileID would be taken from an original that could not be checked.
        do {
            try withLocation(id) { _ in }
            return .duplicate
        } catch let error as FileSystemError where error.code == .notFound || error.code == .staleHandle {
            return .outdated
        }
    }
}
