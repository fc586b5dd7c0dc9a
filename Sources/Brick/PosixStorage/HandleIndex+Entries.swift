import Glibc
import Logging
import MortarCore

/// Adding, rewriting and removing index entries, all relative to the index's descriptor.
extension HandleIndex {
    /// Creates `handles/XX/YY` for a FileID if it is missing.
    func makeBucket(for id: FileID) throws {
        let bucket = Self.bucket(of: id)
        let subject = "index bucket \(bucket)"
        try SystemCall.makeDirectoryIfMissing(
            ObjectPath(directory: handlesDescriptor, name: String(bucket.prefix(2))), subject)
        try SystemCall.makeDirectoryIfMissing(ObjectPath(directory: handlesDescriptor, name: bucket), subject)
    }

    /// Hard-links a non-directory into the index. EEXIST means the FileID is already in use.
    func addEntry(linking object: ObjectPath, id: FileID, _ subject: String) throws {
        try makeBucket(for: id)
        try SystemCall.link(object, to: entry(of: id), "index entry of \(subject) (FileID \(id))")
    }

    /// Hard-links an open file into the index by its descriptor, immune to a concurrent rename of its name.
    func addEntry(descriptor: Int32, id: FileID, _ subject: String) throws {
        try makeBucket(for: id)
        try SystemCall.link(descriptor: descriptor, to: entry(of: id), "index entry of \(subject) (FileID \(id))")
    }

    /// Adds a directory's entry: a relative symbolic link through its parent's entry.
    func addDirectoryEntry(id: FileID, parent: FileID, name: String) throws {
        try makeBucket(for: id)
        let target = id == .root ? Self.rootEntryTarget : Self.directoryEntryTarget(parent: parent, name: name)
        try SystemCall.symbolicLink(target: target, at: entry(of: id), "index entry of directory \(id)")
    }

    /// Points a renamed directory's entry at its new parent and name, atomically (new link, then rename over).
    func rewriteDirectoryEntry(id: FileID, parent: FileID, name: String) throws {
        directories.remove(id)  // its descriptor would still be right, but its path for messages would not
        try makeBucket(for: id)
        let entry = entry(of: id)
        let temporary = ObjectPath(
            directory: handlesDescriptor, name: entry.relativeName + ".new-" + FileID.random().description)
        let subject = "index entry of directory \(id)"
        try SystemCall.symbolicLink(
            target: Self.directoryEntryTarget(parent: parent, name: name), at: temporary, subject)
        do {
            try SystemCall.rename(temporary, to: entry, flags: 0, subject)
        } catch {
            // Cleanup on the way out: the rename's error is the one to report.
            try? SystemCall.unlink(temporary, subject)
            throw error
        }
    }

    /// Removes an entry; a missing one is fine (the object was never indexed or already cleaned up).
    func removeEntry(of id: FileID) throws {
        directories.remove(id)
        do {
            try SystemCall.unlink(entry(of: id), "index entry of FileID \(id)")
        } catch let error as FileSystemError where error.code == .notFound {
            return
        }
    }

    /// Removes a non-directory's entry once the index holds its last link. Open descriptors keep the data alive.
    func removeEntryIfLastLink(of id: FileID) throws {
        let status: stat
        do {
            status = try SystemCall.lstat(entry(of: id), "index entry of FileID \(id)")
        } catch let error as FileSystemError where error.code == .notFound {
            return
        }
        if status.st_nlink <= 1 { try removeEntry(of: id) }
    }
}
