import Logging
import MortarCore
import MortarVolumeSpec
import NIOCore
import Synchronization

/// Attributes, open files and extended attributes: operations addressed by FileID or by open file.
extension Distribute {
    public func lookup(_ name: String, in parent: FileID, context: OperationContext) async throws -> FileAttributes {
        try await resolve(name, in: parent, context: context).attributes
    }

    public func attributes(of file: FileID, context: OperationContext) async throws -> FileAttributes {
        try await query(file, context: context) { try await $0.attributes(of: file, context: context) }
    }

    public func attributes(ofOpen file: OpenFile, context: OperationContext) async throws -> FileAttributes {
        let (child, childFile) = try state.withLock { try $0.openFile(file) }
        return try await children[child].attributes(ofOpen: childFile, context: context)
    }

    public func setAttributes(_ changes: AttributeChanges, of file: FileID, context: OperationContext) async throws
        -> FileAttributes
    {
        try await change(file, "setAttributes", context: context) {
            try await $0.setAttributes(changes, of: file, context: context)
        }
    }

    public func checkAccess(_ mask: AccessMask, to file: FileID, context: OperationContext) async throws {
        try await query(file, context: context) { try await $0.checkAccess(mask, to: file, context: context) }
    }

    public func open(_ file: FileID, flags: OpenFlags, context: OperationContext) async throws -> OpenFile {
        try await waitingForMoves(of: file) {
            let holder = try await readingChild(for: file, context: context)
            let (child, opened) = try await followingMoves(of: file, from: holder, context: context) {
                ($0, try await children[$0].open(file, flags: flags, context: context))
            }
            return try await register(child: child, file: opened, context: context)
        }
    }

    public func openAndRead(_ file: FileID, flags: OpenFlags, count: Int, context: OperationContext) async throws
        -> OpenedFile
    {
        try await waitingForMoves(of: file) {
            let holder = try await readingChild(for: file, context: context)
            let (child, opened) = try await followingMoves(of: file, from: holder, context: context) {
                ($0, try await children[$0].openAndRead(file, flags: flags, count: count, context: context))
            }
            let registered = try await register(child: child, file: opened.file, context: context)
            return OpenedFile(file: registered, head: opened.head)
        }
    }

    /// On the name's hashed child in one exchange when the name is a plain file there; anything else — a link file
    /// (or what could be one), a directory, a name missing there — is resolved as a lookup resolves it, and a
    /// regular file found that way is opened where it lives.
    public func lookupAndRead(
        _ name: String, in parent: FileID, flags: OpenFlags, count: Int, context: OperationContext
    ) async throws -> FoundFile {
        try EntryName.validate(name)
        let hashed = hashedChild(name, in: parent)
        do {
            let found = try await children[hashed].lookupAndRead(
                name, in: parent, flags: flags, count: count, context: context)
            let attributes = found.attributes
            // What the hashed child holds itself — anything but a directory or a link file — is the answer a
            // lookup would give (see `classify`).
            if attributes.type != .directory, !Self.mayBeLinkFile(attributes) {
                state.withLock { $0.learn(attributes.id, .child(hashed)) }
                guard let opened = found.opened else { return found }
                let file = try await register(child: hashed, file: opened.file, context: context)
                return FoundFile(attributes: attributes, opened: OpenedFile(file: file, head: opened.head))
            }
            if let opened = found.opened {
                // Cleanup: the handle was never this layer's, and the lookup below gives the answer.
                try? await children[hashed].release(opened.file, context: context)
            }
        } catch where isNotFound(error) {
            // The name may be elsewhere (lookup-everywhere): the lookup below decides.
        }
        let resolution = try await resolve(name, in: parent, context: context)
        guard case .object(let child, let attributes, _) = resolution, attributes.type == .regular else {
            return FoundFile(attributes: resolution.attributes, opened: nil)
        }
        let opened = try await children[child].openAndRead(attributes.id, flags: flags, count: count, context: context)
        let file = try await register(child: child, file: opened.file, context: context)
        return FoundFile(attributes: attributes, opened: OpenedFile(file: file, head: opened.head))
    }

    /// Gives a child's open file a handle of this layer; releases it on the child when this layer has no handle left.
    func register(child: Int, file: OpenFile, context: OperationContext) async throws -> OpenFile {
        do {
            return try state.withLock { try $0.register(child: child, file: file) }
        } catch {
            // Cleanup on the way out: the registration error is the one to report.
            try? await children[child].release(file, context: context)
            throw error
        }
    }

    public func release(_ file: OpenFile, context: OperationContext) async throws {
        let (child, childFile) = try state.withLock { try $0.openFile(file) }
        state.withLock { $0.unregister(file) }
        try await children[child].release(childFile, context: context)
    }

    /// Runs `body` with the child and child handle behind one of this layer's open files.
    func onOpenFile<Result: Sendable>(
        _ file: OpenFile, _ body: (any FileOperations, OpenFile) async throws -> Result
    ) async throws -> Result {
        let (child, childFile) = try state.withLock { try $0.openFile(file) }
        return try await body(children[child], childFile)
    }

    public func read(from file: OpenFile, at offset: UInt64, count: Int, context: OperationContext) async throws
        -> ByteBuffer
    {
        try await onOpenFile(file) { try await $0.read(from: $1, at: offset, count: count, context: context) }
    }

    public func grantLocalRead(of file: OpenFile, context: OperationContext) async throws -> LocalReadGrant {
        try await onOpenFile(file) { try await $0.grantLocalRead(of: $1, context: context) }
    }

    public func write(_ data: ByteBuffer, to file: OpenFile, at offset: UInt64, context: OperationContext)
        async throws -> Int
    {
        try await onOpenFile(file) { try await $0.write(data, to: $1, at: offset, context: context) }
    }

    public func truncate(_ file: OpenFile, to size: UInt64, context: OperationContext) async throws {
        try await onOpenFile(file) { try await $0.truncate($1, to: size, context: context) }
    }

    public func synchronize(_ file: OpenFile, dataOnly: Bool, context: OperationContext) async throws {
        try await onOpenFile(file) { try await $0.synchronize($1, dataOnly: dataOnly, context: context) }
    }

    public func flush(_ file: OpenFile, context: OperationContext) async throws {
        try await onOpenFile(file) { try await $0.flush($1, context: context) }
    }

    public func allocate(
        _ file: OpenFile, at offset: UInt64, length: UInt64, keepSize: Bool, context: OperationContext
    ) async throws {
        try await onOpenFile(file) {
            try await $0.allocate($1, at: offset, length: length, keepSize: keepSize, context: context)
        }
    }

    public func discard(_ file: OpenFile, at offset: UInt64, length: UInt64, context: OperationContext) async throws {
        try await onOpenFile(file) { try await $0.discard($1, at: offset, length: length, context: context) }
    }

    public func zeroFill(_ file: OpenFile, at offset: UInt64, length: UInt64, context: OperationContext) async throws {
        try await onOpenFile(file) { try await $0.zeroFill($1, at: offset, length: length, context: context) }
    }

    public func seek(_ file: OpenFile, from offset: UInt64, to target: SeekTarget, context: OperationContext)
        async throws -> UInt64
    {
        try await onOpenFile(file) { try await $0.seek($1, from: offset, to: target, context: context) }
    }

    public func lock(_ file: OpenFile, _ request: LockRequest, wait: Bool, context: OperationContext) async throws {
        try await onOpenFile(file) { try await $0.lock($1, request, wait: wait, context: context) }
    }

    public func testLock(_ file: OpenFile, _ request: LockRequest, context: OperationContext) async throws
        -> LockRequest?
    {
        try await onOpenFile(file) { try await $0.testLock($1, request, context: context) }
    }

    public func readSymbolicLink(_ file: FileID, context: OperationContext) async throws -> String {
        try await query(file, context: context) { try await $0.readSymbolicLink(file, context: context) }
    }

    // MARK: Extended attributes

    public func extendedAttribute(_ name: String, of file: FileID, context: OperationContext) async throws
        -> [UInt8]
    {
        try await query(file, context: context) { try await $0.extendedAttribute(name, of: file, context: context) }
    }

    public func setExtendedAttribute(
        _ name: String, to value: [UInt8], mode: ExtendedAttributeMode, of file: FileID, context: OperationContext
    ) async throws {
        try await change(file, "setExtendedAttribute", context: context) {
            try await $0.setExtendedAttribute(name, to: value, mode: mode, of: file, context: context)
        }
    }

    public func extendedAttributeNames(of file: FileID, context: OperationContext) async throws -> [String] {
        try await query(file, context: context) { try await $0.extendedAttributeNames(of: file, context: context) }
    }

    public func removeExtendedAttribute(_ name: String, of file: FileID, context: OperationContext) async throws {
        try await change(file, "removeExtendedAttribute", context: context) {
            try await $0.removeExtendedAttribute(name, of: file, context: context)
        }
    }

    /// Control messages go to one brick through its protocol client, never through a volume's client stack.
    public func control(_ request: ControlRequest, context: OperationContext) async throws -> ControlReply {
        throw FileSystemError.notAReplicaMember(request, "the distribute layer")
    }

    /// The children's space added up, each file system once: children whose bricks share a disk (same
    /// `fileSystemID`, which bricks make from the host and statvfs's `f_fsid`; 0 means unknown and is never
    /// merged) report the same blocks, and adding them up made `df` show two or three times the disk.
    public func fileSystemStatistics(context: OperationContext) async throws -> FileSystemStatistics {
        let all = try await everyChild("fileSystemStatistics") { try await $0.fileSystemStatistics(context: context) }
        var counted: Set<UInt64> = []
        let distinct = all.filter { $0.fileSystemID == 0 || counted.insert($0.fileSystemID).inserted }
        guard var total = distinct.first else { throw FileSystemError.inputOutput("distribute has no children") }
        for other in distinct.dropFirst() {
            // Counts are in each child's fragment size; convert to the first child's.
            let scale = { (blocks: UInt64) in blocks * max(other.fragmentSize, 1) / max(total.fragmentSize, 1) }
            total.blocks += scale(other.blocks)
            total.blocksFree += scale(other.blocksFree)
            total.blocksAvailable += scale(other.blocksAvailable)
            total.files += other.files
            total.filesFree += other.filesFree
            total.filesAvailable += other.filesAvailable
            total.nameLengthMax = min(total.nameLengthMax, other.nameLengthMax)
        }
        return total
    }
}
