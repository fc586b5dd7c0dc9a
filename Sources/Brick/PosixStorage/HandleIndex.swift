import Glibc
import Logging
import MortarCore

/// Where an object lives on the brick, found from its FileID.
struct Location: Sendable {
    let id: FileID
    let isDirectory: Bool
    /// The absolute brick path to pass to system calls: the directory itself, or for any other object the index
    /// entry, which is a hard link to it.
    let path: String
    /// How errors name the object: a volume-relative path for a directory, the FileID otherwise.
    let subject: String
}

/// The hidden handle index, `ROOT/.mortar/handles/XX/YY/<fileid>`, that reaches an object by FileID after renames.
///
/// Files, symbolic links, FIFOs and sockets are hard-linked there, so the entry *is* the object. A directory cannot be
/// hard-linked, so its entry is a relative symbolic link through its parent's entry,
/// `../../PP/QQ/<parent-fileid>/<name>`; renaming a directory rewrites only its own entry. The chain is read here in
/// Swift, bounded by ``Limits/directoryDepthMax``, because the kernel stops following after 40 nested links.
struct HandleIndex: Sendable {
    /// The brick directory, absolute or as given, without a trailing slash.
    let root: String
    /// Adoptions and repairs are worth an info line: they mean someone changed the brick directory by hand.
    let logger: Logger

    static let hiddenName = ".mortar"
    /// The root's entry points four levels up: `handles/00/00` are three directories below `.mortar`.
    static let rootEntryTarget = "../../../.."

    var hiddenPath: String { root + "/" + Self.hiddenName }
    var handlesPath: String { hiddenPath + "/handles" }

    /// `XX/YY` for a FileID: the hex of its first two bytes.
    static func bucket(of id: FileID) -> String {
        let bytes = id.bytes
        return hex(bytes[0]) + "/" + hex(bytes[1])
    }

    func entryPath(of id: FileID) -> String {
        handlesPath + "/" + Self.bucket(of: id) + "/" + id.description
    }

    /// The brick path of a volume-relative directory path ("" is the root).
    func brickPath(_ relativePath: String) -> String {
        relativePath.isEmpty ? root : root + "/" + relativePath
    }

    /// What a directory's entry points at: its parent's entry, then its own name.
    static func directoryEntryTarget(parent: FileID, name: String) -> String {
        "../../" + bucket(of: parent) + "/" + parent.description + "/" + name
    }

    /// Finds an object by FileID. Throws ENOENT for an unknown FileID and ESTALE when a directory's chain no
    /// longer leads to that directory (someone renamed it behind the brick's back).
    func locate(_ id: FileID) throws -> Location {
        if id == .root { return Location(id: id, isDirectory: true, path: root, subject: "/") }
        let entry = entryPath(of: id)
        let target: String
        do {
            target = try SystemCall.readLink(entry, "FileID \(id)")
        } catch let error as FileSystemError where error.code == .invalidArgument {
            return Location(id: id, isDirectory: false, path: entry, subject: "FileID \(id)")
        } catch let error as FileSystemError where error.code == .notFound {
            throw FileSystemError(.notFound, "no object with FileID \(id) on this brick")
        }
        // A hard-linked symbolic link carries the FileID itself; a directory's entry does not.
        if try SystemCall.fileID(at: entry, "FileID \(id)") == id {
            return Location(id: id, isDirectory: false, path: entry, subject: "FileID \(id)")
        }
        let relativePath = try resolveDirectory(id, firstTarget: target)
        let path = brickPath(relativePath)
        guard try SystemCall.fileID(at: path, "/" + relativePath) == id else {
            throw FileSystemError(.staleHandle, "index entry of directory \(id) leads to /\(relativePath), not to it")
        }
        return Location(id: id, isDirectory: true, path: path, subject: "/" + relativePath)
    }

    /// Walks the chain of directory entries up to the root, collecting names, and returns the relative path.
    private func resolveDirectory(_ id: FileID, firstTarget: String) throws -> String {
        var names: [String] = []
        var current = id
        var target = firstTarget
        while names.count < Limits.directoryDepthMax {
            let (parent, name) = try parseDirectoryTarget(target, of: current)
            names.append(name)
            if parent == .root { return names.reversed().joined(separator: "/") }
            current = parent
            target = try SystemCall.readLink(entryPath(of: current), "index entry of directory \(current)")
        }
        throw FileSystemError(
            .symbolicLinkLoop, "directory \(id) is nested deeper than \(Limits.directoryDepthMax) levels")
    }

    private func parseDirectoryTarget(_ target: String, of id: FileID) throws -> (FileID, String) {
        let parts = target.split(separator: "/", maxSplits: 5, omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "..", parts[1] == "..", let parent = FileID(String(parts[4])),
            Self.bucket(of: parent) == parts[2] + "/" + parts[3], !parts[5].isEmpty
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
