import MortarCore
import NIOCore
import Synchronization

/// A small, faithful in-memory model of one brick's POSIX semantics: the reference every other
/// ``FileOperations`` is compared against, and a fast child for layer tests.
///
/// What it models: objects keyed by caller-chosen ``FileID`` (the root is ``FileID/root``, a directory with mode
/// 0o755); directories map names to FileIDs and count links as 2 plus their subdirectories; regular files hold
/// bytes with 4 KiB block sparseness (see `FileContent` for how SEEK_DATA/SEEK_HOLE, discard and zero-fill
/// behave); symbolic links hold targets; extended attributes; open handles that check read/write access, write at
/// the end under `.append`, and keep an unlinked file readable until released.
///
/// Directory listings are in the order of a 48-bit hash of each name, and the cookie of an entry is that hash:
/// a cookie survives any concurrent change, and entries present throughout a listing are listed exactly once.
/// Listings contain neither `.` nor `..`.
///
/// Times come from the clock given to ``init(clock:fileByteCountMax:)``; by default a counter that advances one
/// second on every change from 1_700_000_000 (November 2023), so tests are deterministic. Byte-range locks are not
/// modelled (`.notSupported`): they belong to a server layer.
public final class MemoryFileSystem: FileOperations {
    private let state: Mutex<MemoryModel>

    /// - Parameters:
    ///   - clock: the time stamped on changes; `nil` uses a deterministic counter.
    ///   - fileByteCountMax: the largest file the model holds (EFBIG past it), to keep tests' memory bounded.
    public init(clock: (@Sendable () -> Timestamp)? = nil, fileByteCountMax: UInt64 = 64 << 20) {
        state = Mutex(MemoryModel(clock: clock, fileByteCountMax: fileByteCountMax))
    }

    /// Handles currently open, for tests that check a layer releases what it opens.
    public var openHandleCount: Int { state.withLock { $0.handles.count } }

    // MARK: Names and attributes

    public func lookup(_ name: String, in parent: FileID, context: OperationContext) async throws -> FileAttributes {
        try state.withLock { model in try model.attributes(try model.entry(name, in: parent)) }
    }

    public func attributes(of file: FileID, context: OperationContext) async throws -> FileAttributes {
        try state.withLock { try $0.attributes(file) }
    }

    public func attributes(ofOpen file: OpenFile, context: OperationContext) async throws -> FileAttributes {
        try state.withLock { model in try model.attributes(try model.handle(file).id) }
    }

    public func setAttributes(_ changes: AttributeChanges, of file: FileID, context: OperationContext) async throws
        -> FileAttributes
    {
        try state.withLock { try $0.setAttributes(changes, of: file) }
    }

    public func checkAccess(_ mask: AccessMask, to file: FileID, context: OperationContext) async throws {
        try state.withLock { try $0.checkAccess(mask, to: file, context: context) }
    }

    // MARK: Files

    public func create(
        _ name: String, in parent: FileID, id: FileID, permissions: UInt32, flags: OpenFlags,
        context: OperationContext
    ) async throws -> CreatedFile {
        try state.withLock {
            try $0.create(name, in: parent, id: id, permissions: permissions, flags: flags, context: context)
        }
    }

    public func open(_ file: FileID, flags: OpenFlags, context: OperationContext) async throws -> OpenFile {
        try state.withLock { try $0.open(file, flags: flags) }
    }

    public func openAndRead(_ file: FileID, flags: OpenFlags, count: Int, context: OperationContext) async throws
        -> OpenedFile
    {
        try Self.checkOpenAndRead(flags: flags, count: count)
        return try state.withLock { model in
            let opened = try model.open(file, flags: flags)
            do {
                return OpenedFile(file: opened, head: ByteBuffer(bytes: try model.read(from: opened, at: 0, count: count)))
            } catch {
                try? model.release(opened)  // just opened under this lock: its release cannot fail
                throw error
            }
        }
    }

    public func lookupAndRead(
        _ name: String, in parent: FileID, flags: OpenFlags, count: Int, context: OperationContext
    ) async throws -> FoundFile {
        try Self.checkOpenAndRead(flags: flags, count: count)
        let attributes = try await lookup(name, in: parent, context: context)
        guard attributes.type == .regular else { return FoundFile(attributes: attributes, opened: nil) }
        let opened = try await openAndRead(attributes.id, flags: flags, count: count, context: context)
        return FoundFile(attributes: attributes, opened: opened)
    }

    public func release(_ file: OpenFile, context: OperationContext) async throws {
        try state.withLock { try $0.release(file) }
    }

    /// Checked as a read is (EBADF for a handle not open for reading), then refused: memory has no descriptors.
    public func grantLocalRead(of file: OpenFile, context: OperationContext) async throws -> LocalReadGrant {
        _ = try state.withLock { try $0.read(from: file, at: 0, count: 0) }
        throw FileSystemError(.notSupported, "an in-memory file system hands out no descriptors")
    }

    public func read(from file: OpenFile, at offset: UInt64, count: Int, context: OperationContext) async throws
        -> ByteBuffer
    {
        let bytes = try state.withLock { try $0.read(from: file, at: offset, count: count) }
        return ByteBuffer(bytes: bytes)
    }

    public func write(_ data: ByteBuffer, to file: OpenFile, at offset: UInt64, context: OperationContext)
        async throws -> Int
    {
        let bytes = Array(data.readableBytesView)
        return try state.withLock { try $0.write(bytes, to: file, at: offset) }
    }

    public func truncate(_ file: OpenFile, to size: UInt64, context: OperationContext) async throws {
        try state.withLock { try $0.truncate(file, to: size) }
    }

    public func synchronize(_ file: OpenFile, dataOnly: Bool, context: OperationContext) async throws {
        _ = try state.withLock { try $0.handle(file) }
    }

    public func flush(_ file: OpenFile, context: OperationContext) async throws {
        _ = try state.withLock { try $0.handle(file) }
    }

    public func allocate(
        _ file: OpenFile, at offset: UInt64, length: UInt64, keepSize: Bool, context: OperationContext
    ) async throws {
        try state.withLock { try $0.allocate(file, at: offset, length: length, keepSize: keepSize) }
    }

    public func discard(_ file: OpenFile, at offset: UInt64, length: UInt64, context: OperationContext) async throws {
        try state.withLock { try $0.discard(file, at: offset, length: length) }
    }

    public func zeroFill(_ file: OpenFile, at offset: UInt64, length: UInt64, context: OperationContext) async throws {
        try state.withLock { try $0.zeroFill(file, at: offset, length: length) }
    }

    public func seek(_ file: OpenFile, from offset: UInt64, to target: SeekTarget, context: OperationContext)
        async throws -> UInt64
    {
        try state.withLock { try $0.seek(file, from: offset, to: target) }
    }

    public func lock(_ file: OpenFile, _ request: LockRequest, wait: Bool, context: OperationContext) async throws {
        throw FileSystemError(.notSupported, "MemoryFileSystem does not model byte-range locks")
    }

    public func testLock(_ file: OpenFile, _ request: LockRequest, context: OperationContext) async throws
        -> LockRequest?
    {
        throw FileSystemError(.notSupported, "MemoryFileSystem does not model byte-range locks")
    }

    // MARK: Namespace

    public func unlink(_ name: String, in parent: FileID, context: OperationContext) async throws {
        try state.withLock { try $0.unlink(name, in: parent) }
    }

    public func makeDirectory(
        _ name: String, in parent: FileID, id: FileID, permissions: UInt32, context: OperationContext
    ) async throws -> FileAttributes {
        try state.withLock {
            try $0.makeDirectory(name, in: parent, id: id, permissions: permissions, context: context)
        }
    }

    public func removeDirectory(_ name: String, in parent: FileID, context: OperationContext) async throws {
        try state.withLock { try $0.removeDirectory(name, in: parent) }
    }

    public func readDirectory(_ directory: FileID, after cookie: UInt64, countMax: Int, context: OperationContext)
        async throws -> DirectoryPage
    {
        try state.withLock { try $0.readDirectory(directory, after: cookie, countMax: countMax) }
    }

    public func rename(
        _ name: String, in parent: FileID, to newName: String, in newParent: FileID, flags: RenameFlags,
        context: OperationContext
    ) async throws {
        try state.withLock { try $0.rename(name, in: parent, to: newName, in: newParent, flags: flags) }
    }

    public func link(_ file: FileID, as name: String, in parent: FileID, context: OperationContext) async throws
        -> FileAttributes
    {
        try state.withLock { try $0.link(file, as: name, in: parent) }
    }

    public func makeSymbolicLink(
        _ name: String, in parent: FileID, id: FileID, target: String, context: OperationContext
    ) async throws -> FileAttributes {
        try state.withLock { try $0.makeSymbolicLink(name, in: parent, id: id, target: target, context: context) }
    }

    public func readSymbolicLink(_ file: FileID, context: OperationContext) async throws -> String {
        try state.withLock { try $0.readSymbolicLink(file) }
    }

    public func makeNode(
        _ name: String, in parent: FileID, id: FileID, type: FileType, permissions: UInt32, device: UInt64,
        context: OperationContext
    ) async throws -> FileAttributes {
        try state.withLock {
            try $0.makeNode(name, in: parent, id: id, type: type, permissions: permissions, device: device, context: context)
        }
    }

    public func fileSystemStatistics(context: OperationContext) async throws -> FileSystemStatistics {
        state.withLock { $0.statistics() }
    }

    // MARK: Extended attributes

    public func extendedAttribute(_ name: String, of file: FileID, context: OperationContext) async throws
        -> [UInt8]
    {
        try state.withLock { try $0.extendedAttribute(name, of: file) }
    }

    public func setExtendedAttribute(
        _ name: String, to value: [UInt8], mode: ExtendedAttributeMode, of file: FileID, context: OperationContext
    ) async throws {
        try state.withLock { try $0.setExtendedAttribute(name, to: value, mode: mode, of: file) }
    }

    public func extendedAttributeNames(of file: FileID, context: OperationContext) async throws -> [String] {
        try state.withLock { try $0.extendedAttributeNames(of: file) }
    }

    public func removeExtendedAttribute(_ name: String, of file: FileID, context: OperationContext) async throws {
        try state.withLock { try $0.removeExtendedAttribute(name, of: file) }
    }

    public func control(_ request: ControlRequest, context: OperationContext) async throws -> ControlReply {
        throw FileSystemError.notAReplicaMember(request, "the in-memory file system")
    }
}
