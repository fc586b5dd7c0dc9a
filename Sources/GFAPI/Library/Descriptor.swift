import Mortar
import MortarCore

/// What a `glfs_fd_t` stands for: an open file or an open directory stream of one client instance.
final class Descriptor: Sendable {
    enum Target: Sendable {
        case file(SharedFile)
        case directory(DirectoryStream)
    }

    let client: ClientInstance
    let target: Target
    let activity = Activity()

    init(client: ClientInstance, target: Target) {
        self.client = client
        self.target = target
    }

    /// The open file, or EISDIR for a directory stream (file calls on a directory fail as read(2) does).
    func file() throws -> File {
        switch target {
        case .file(let shared): return shared.file
        case .directory: throw FileSystemError(.isDirectory, "descriptor is an open directory")
        }
    }

    func directory() throws -> DirectoryStream {
        switch target {
        case .directory(let stream): return stream
        case .file(let shared): throw FileSystemError(.notDirectory, "'\(shared.file.path)' is not a directory")
        }
    }

    /// What the attribute calls (`fstat`, `fchmod`, `futimens`, `f*xattr`) act on: the open file, or the directory
    /// a stream lists — on GlusterFS these work on every descriptor, and Samba makes them on directories.
    var object: any OpenObject {
        switch target {
        case .file(let shared): return shared.file
        case .directory(let stream): return stream.directory
        }
    }
}

/// The calls every descriptor answers, file or directory: attributes and extended attributes.
protocol OpenObject: Sendable {
    var volume: Volume { get }
    func attributes() async throws -> FileAttributes
    @discardableResult func setAttributes(_ changes: AttributeChanges) async throws -> FileAttributes
    func extendedAttribute(_ name: String) async throws -> [UInt8]
    func setExtendedAttribute(_ name: String, to value: [UInt8], mode: ExtendedAttributeMode) async throws
    func extendedAttributeNames() async throws -> [String]
    func removeExtendedAttribute(_ name: String) async throws
}

extension File: OpenObject {}
extension Directory: OpenObject {}

/// An open file shared by the descriptors `glfs_dup` made from one another: they share its position, and the file
/// is released on the bricks when the last of them closes.
final class SharedFile: Sendable {
    let file: File
    private let openCount = ForkSafeMutex(1)

    init(_ file: File) {
        self.file = file
    }

    func retain() {
        openCount.withLock { $0 += 1 }
    }

    /// Drops one descriptor's claim; the last one closes the file.
    func release() async throws {
        let isLast = openCount.withLock { count -> Bool in
            count -= 1
            return count == 0
        }
        if isLast { try await file.close() }
    }
}

/// The handles the library hands out, one table per kind.
enum Registry {
    static let clients = HandleTable<ClientInstance>(kind: 0x4D, capacity: 4096)
    static let descriptors = HandleTable<Descriptor>(kind: 0x46, capacity: 1 << 20)

    /// Registers a new descriptor with its instance and returns its handle: EMFILE when the table is full,
    /// ENOTCONN when the instance was finished meanwhile.
    static func open(_ descriptor: Descriptor) throws -> UnsafeMutableRawPointer {
        guard let handle = descriptors.insert(descriptor) else {
            throw FileSystemError(.tooManyOpenFiles, "\(1 << 20) descriptors are open")
        }
        let accepted = descriptor.client.state.withLock { state -> Bool in
            if case .finished = state.phase { return false }
            state.descriptors.insert(UInt(bitPattern: handle))
            return true
        }
        guard accepted else {
            _ = descriptors.remove(handle)
            throw FileSystemError(.notConnected, "volume \(descriptor.client.volumeName) was finished")
        }
        return handle
    }
}
