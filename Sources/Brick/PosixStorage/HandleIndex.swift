import CMortarLinux
import Glibc
import Logging
import MortarCore
import Synchronization

/// Where an object lives on the brick, found from its FileID.
///
/// A directory's location holds a descriptor opened for it (``HandleIndex/withLocation(_:_:)`` closes it), or the
/// brick root's, which stays open for the storage's life.
struct Location: Sendable {
    let id: FileID
    let isDirectory: Bool
    /// The object for system calls: an open directory itself, or for any other object its index entry, which is a
    /// hard link to it.
    let object: ObjectPath
    /// How errors name the object: a volume-relative path for a directory, the FileID otherwise.
    let subject: String
    /// Whether `object.directory` was opened for this location (and must be closed with it).
    let ownsDescriptor: Bool

    /// The open directory, to resolve names in; only for directories.
    var directoryDescriptor: Int32 { object.directory }

    func close() {
        if ownsDescriptor { SystemCall.close(object.directory) }
    }
}

/// The hidden handle index, `ROOT/.mortar/handles/XX/YY/<fileid>`, that reaches an object by FileID after renames.
///
/// Files, symbolic links, FIFOs and sockets are hard-linked there, so the entry *is* the object. A directory cannot be
/// hard-linked, so its entry is a relative symbolic link through its parent's entry,
/// `../../PP/QQ/<parent-fileid>/<name>`; renaming a directory rewrites only its own entry. The chain is read here in
/// Swift, bounded by ``Limits/directoryDepthMax``, because the kernel stops following after 40 nested links.
///
/// Everything is reached through two descriptors held open for the storage's life, the brick directory and
/// `.mortar/handles`, never through absolute paths: those grow with the brick directory's own path and would make
/// volume paths near PATH_MAX fail (see ``ObjectPath``).
struct HandleIndex: Sendable {
    /// The brick directory as given, without a trailing slash: for messages only.
    let root: String
    /// The brick directory, opened O_RDONLY | O_DIRECTORY (reads, extended attributes and fstatvfs need more than
    /// O_PATH).
    let rootDescriptor: Int32
    /// `.mortar/handles`, opened O_PATH: only ever a base for *at calls.
    let handlesDescriptor: Int32
    /// `.mortar/staging`, opened O_PATH: where new objects are made before they get their names (see
    /// ``PosixStorage/place(_:at:id:type:permissions:descriptor:context:)``).
    let stagingDescriptor: Int32
    /// Adoptions and repairs are worth an info line: they mean someone changed the brick directory by hand.
    let logger: Logger
    /// Directories located lately, open, so the next request in one skips the walk (see the type).
    let directories: DirectoryDescriptorCache

    static let hiddenName = ".mortar"
    /// The root's entry points four levels up: `handles/00/00` are three directories below `.mortar`.
    static let rootEntryTarget = "../../../.."

    /// Opens the brick directory `root` and its handle index, creating the index if it is missing. The caller
    /// closes both descriptors (``close()``) when the storage goes.
    static func open(
        root: String, logger: Logger, directoriesCachedMax: Int = Limits.directoryDescriptorsCachedMax
    ) throws -> HandleIndex {
        let subject = "brick directory \(root)"
        let rootDescriptor: Int32
        do {
            rootDescriptor = try SystemCall.open(root, flags: O_RDONLY | O_DIRECTORY | O_NOFOLLOW, subject)
        } catch let error as FileSystemError where error.code == .notFound {
            throw FileSystemError(.notFound, "brick directory \(root) does not exist")
        } catch let error as FileSystemError where error.code == .notDirectory || error.code == .symbolicLinkLoop {
            throw FileSystemError(.notDirectory, "brick directory \(root) is not a directory")
        }
        do {
            let hidden = ObjectPath(directory: rootDescriptor, name: hiddenName)
            try SystemCall.makeDirectoryIfMissing(hidden, "\(root)/\(hiddenName)")
            let hiddenDescriptor = try SystemCall.open(
                hidden, flags: cmortar_o_path | O_DIRECTORY | O_NOFOLLOW, "\(root)/\(hiddenName)")
            defer { SystemCall.close(hiddenDescriptor) }
            let handles = ObjectPath(directory: hiddenDescriptor, name: "handles")
            try SystemCall.makeDirectoryIfMissing(handles, "\(root)/\(hiddenName)/handles")
            let handlesDescriptor = try SystemCall.open(
                handles, flags: cmortar_o_path | O_DIRECTORY | O_NOFOLLOW, "\(root)/\(hiddenName)/handles")
            let stagingDescriptor: Int32
            do {
                stagingDescriptor = try openStaging(in: hiddenDescriptor, "\(root)/\(hiddenName)/staging", logger)
            } catch {
                SystemCall.close(handlesDescriptor)
                throw error
            }
            return HandleIndex(
                root: root, rootDescriptor: rootDescriptor, handlesDescriptor: handlesDescriptor,
                stagingDescriptor: stagingDescriptor, logger: logger,
                directories: DirectoryDescriptorCache(capacity: directoriesCachedMax))
        } catch {
            SystemCall.close(rootDescriptor)
            throw error
        }
    }

    /// Closes the descriptors; the index is unusable afterwards.
    func close() {
        directories.close()
        SystemCall.close(stagingDescriptor)
        SystemCall.close(handlesDescriptor)
        SystemCall.close(rootDescriptor)
    }

    /// The brick root as a location (its descriptor stays open).
    var rootLocation: Location {
        Location(
            id: .root, isDirectory: true, object: ObjectPath(directory: rootDescriptor, name: nil), subject: "/",
            ownsDescriptor: false)
    }

    /// `XX/YY` for a FileID: the hex of its first two bytes.
    static func bucket(of id: FileID) -> String {
        let bytes = id.bytes
        return hex(bytes[0]) + "/" + hex(bytes[1])
    }

    /// A FileID's entry, `XX/YY/<fileid>` relative to the index: a fixed length, wherever the brick lives.
    func entry(of id: FileID) -> ObjectPath {
        ObjectPath(directory: handlesDescriptor, name: Self.bucket(of: id) + "/" + id.description)
    }

    /// What a directory's entry points at: its parent's entry, then its own name.
    static func directoryEntryTarget(parent: FileID, name: String) -> String {
        "../../" + bucket(of: parent) + "/" + parent.description + "/" + name
    }

    /// Runs `body` with the object of FileID `id`, closing whatever was opened to reach it afterwards. A directory
    /// comes from ``directories`` when it is there, unless `cached` is false: its `subject` is then the path it
    /// has now, not where it was first found.
    func withLocation<Result>(_ id: FileID, cached: Bool = true, _ body: (Location) throws -> Result) throws -> Result {
        let location = try locate(id, cached: cached)
        defer { location.close() }
        return try body(location)
    }

    /// Finds an object by FileID. Throws ENOENT for an unknown FileID and ESTALE when a directory's chain no
    /// longer leads to that directory (someone renamed it behind the brick's back). A directory's location owns
    /// an open descriptor: use ``withLocation(_:_:)``.
    private func locate(_ id: FileID, cached: Bool) throws -> Location {
        if id == .root { return rootLocation }
        if cached, let cached = directories.descriptor(of: id) {
            return Location(
                id: id, isDirectory: true, object: ObjectPath(directory: cached.descriptor, name: nil),
                subject: cached.subject, ownsDescriptor: true)
        }
        let entry = entry(of: id)
        let target: String
        do {
            target = try SystemCall.readLink(entry, "FileID \(id)")
        } catch let error as FileSystemError where error.code == .invalidArgument {
            return Location(id: id, isDirectory: false, object: entry, subject: "FileID \(id)", ownsDescriptor: false)
        } catch let error as FileSystemError where error.code == .notFound {
            throw FileSystemError(.notFound, "no object with FileID \(id) on this brick")
        }
        // A hard-linked symbolic link carries the FileID itself; a directory's entry does not.
        if try SystemCall.fileID(at: entry, "FileID \(id)") == id {
            return Location(id: id, isDirectory: false, object: entry, subject: "FileID \(id)", ownsDescriptor: false)
        }
        let names = try resolveDirectory(id, firstTarget: target)
        let subject = "/" + names.joined(separator: "/")
        let descriptor = try openDirectory(names, subject)
        do {
            guard try SystemCall.fileID(descriptor: descriptor, subject) == id else {
                throw FileSystemError(.staleHandle, "index entry of directory \(id) leads to \(subject), not to it")
            }
        } catch {
            SystemCall.close(descriptor)
            throw error
        }
        directories.keep(descriptor, of: id, subject: subject)
        return Location(
            id: id, isDirectory: true, object: ObjectPath(directory: descriptor, name: nil), subject: subject,
            ownsDescriptor: true)
    }

    /// Opens the directory at `names` below the brick root, O_RDONLY, without following any symbolic link on the
    /// way: the one place where volume paths are resolved on the brick.
    ///
    /// One openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) call when the kernel has it and the path fits in
    /// PATH_MAX; otherwise one openat(O_NOFOLLOW | O_DIRECTORY) per name, each relative to the one before (O_PATH
    /// for the ones passed through), so no path given to the kernel is longer than a name. A name that is not a
    /// directory, or a symbolic link put in a directory's place by hand, is ESTALE: the chain no longer leads to
    /// the directory.
    private func openDirectory(_ names: [String], _ subject: String) throws -> Int32 {
        do {
            let joined = names.joined(separator: "/")
            if joined.utf8.count < Int(PATH_MAX), let descriptor = try Self.openBeneath(rootDescriptor, joined, subject) {
                return descriptor
            }
            var current = rootDescriptor
            defer { if current != rootDescriptor { SystemCall.close(current) } }
            for (position, name) in names.enumerated() {
                let last = position == names.count - 1
                let flags = (last ? O_RDONLY : cmortar_o_path) | O_DIRECTORY | O_NOFOLLOW
                let next = try SystemCall.open(ObjectPath(directory: current, name: name), flags: flags, subject)
                if current != rootDescriptor { SystemCall.close(current) }
                current = next
            }
            let opened = current
            current = rootDescriptor  // handed to the caller, not closed here
            return opened
        } catch let error as FileSystemError where error.code == .notDirectory || error.code == .symbolicLinkLoop {
            throw FileSystemError(.staleHandle, "\(subject) is no longer a directory reached without symbolic links")
        }
    }

    /// openat2 confined to `directory`, or nil where the kernel (or a seccomp filter) does not offer it.
    private static func openBeneath(_ directory: Int32, _ path: String, _ subject: String) throws -> Int32? {
        guard openat2Available.load(ordering: .relaxed) else { return nil }
        do {
            return try SystemCall.retrying("openat2", subject) {
                cmortar_openat2_beneath(directory, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            }
        } catch let error as FileSystemError where error.code == .notImplemented {
            openat2Available.store(false, ordering: .relaxed)
            return nil
        } catch let error as FileSystemError where error.code == .wouldBlock {
            return nil  // a rename raced with the lookup: the walk below does not care
        }
    }

    /// Cleared the first time openat2 turns out to be missing, so later lookups go straight to the walk.
    private static let openat2Available = Atomic<Bool>(true)

    /// Walks the chain of directory entries up to the root, collecting names, and returns them from the root down.
    private func resolveDirectory(_ id: FileID, firstTarget: String) throws -> [String] {
        var names: [String] = []
        var current = id
        var target = firstTarget
        while names.count < Limits.directoryDepthMax {
            let (parent, name) = try parseDirectoryTarget(target, of: current)
            names.append(name)
            if parent == .root { return names.reversed() }
            current = parent
            target = try SystemCall.readLink(entry(of: current), "index entry of directory \(current)")
        }
        throw FileSystemError(
            .symbolicLinkLoop, "directory \(id) is nested deeper than \(Limits.directoryDepthMax) levels")
    }

    /// A name must be one entry name: a hand-edited `a/../b` would otherwise walk elsewhere.
    private func parseDirectoryTarget(_ target: String, of id: FileID) throws -> (FileID, String) {
        let parts = target.split(separator: "/", maxSplits: 5, omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "..", parts[1] == "..", let parent = FileID(String(parts[4])),
            Self.bucket(of: parent) == parts[2] + "/" + parts[3],
            // Only "valid or not" matters here; the error below names the entry.
            (try? EntryName.validate(String(parts[5]))) != nil
        else {
            throw FileSystemError(.inputOutput, "index entry of directory \(id) is malformed: '\(target)'")
        }
        return (parent, String(parts[5]))
    }

    private static func hex(_ byte: UInt8) -> String {
        let digits = String(byte, radix: 16)
        return digits.count == 1 ? "0" + digits : digits
    }
}
