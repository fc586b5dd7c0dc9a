import NIOCore

/// The one operation table of Mortar (GlusterFS's fop table). The brick's storage, every layer of the client
/// stack and the protocol client that talks to a brick all implement it.
///
/// Objects are addressed by ``FileID``; namespace operations name an entry by its parent's FileID and a name. Calls
/// that create objects take the new object's FileID from the caller, so that a directory gets the same FileID on
/// every brick and a replica the same FileID as its primary. Every method throws ``FileSystemError``.
///
/// The order of requirements is the order of ``Opcode`` in MortarWire. Adding an operation touches this protocol,
/// the forwarding default in ``Layer``, and the wire enum in MortarWire; exhaustive switches find the rest.
public protocol FileOperations: Sendable {
    // MARK: Names and attributes
    func lookup(_ name: String, in parent: FileID, context: OperationContext) async throws -> FileAttributes
    func attributes(of file: FileID, context: OperationContext) async throws -> FileAttributes
    func attributes(ofOpen file: OpenFile, context: OperationContext) async throws -> FileAttributes
    func setAttributes(_ changes: AttributeChanges, of file: FileID, context: OperationContext) async throws
        -> FileAttributes
    func checkAccess(_ mask: AccessMask, to file: FileID, context: OperationContext) async throws

    // MARK: Files
    func create(
        _ name: String, in parent: FileID, id: FileID, permissions: UInt32, flags: OpenFlags,
        context: OperationContext
    ) async throws -> CreatedFile
    func open(_ file: FileID, flags: OpenFlags, context: OperationContext) async throws -> OpenFile
    /// Opens `file` for reading and reads up to `count` bytes (at most `Limits.quickReadByteCountMax`) from its
    /// start in the same exchange: how a reader of a small file saves a round trip. What `open` and then `read`
    /// would do and check, as one operation; flags in `OpenFlags.changing` are refused with EINVAL.
    func openAndRead(_ file: FileID, flags: OpenFlags, count: Int, context: OperationContext) async throws
        -> OpenedFile
    /// Looks `name` up in `parent` and, when it names a regular file this back end serves reads of, opens it for
    /// reading and reads up to `count` bytes from its start: lookup, open and read in one exchange where the file
    /// allows. `opened` is nil when the name is not a regular file or the caller may not read it: the caller has
    /// the lookup's answer and opens the usual way. (A brick that is a replica member answers for the files it is
    /// the primary of; the client's replicate layer opens the others on their primary.) Checks as `lookup` and
    /// `openAndRead`.
    func lookupAndRead(_ name: String, in parent: FileID, flags: OpenFlags, count: Int, context: OperationContext)
        async throws -> FoundFile
    func release(_ file: OpenFile, context: OperationContext) async throws
    func read(from file: OpenFile, at offset: UInt64, count: Int, context: OperationContext) async throws
        -> ByteBuffer
    /// Lets a client on the brick's own host read an open file itself (short-circuit local reads): the brick's
    /// storage opens the file again read-only and offers that descriptor on its descriptor hand-off socket, and the
    /// answer is the one-time token that claims it there. Only the protocol client asks, for a file it opened for
    /// reading on the brick's Unix socket; it then reads with `pread` what `read` would have sent it. EBADF when
    /// `file` is not open for reading; EOPNOTSUPP where the back end cannot promise that such reads see what `read`
    /// would (not a local file system, or a replica member).
    func grantLocalRead(of file: OpenFile, context: OperationContext) async throws -> LocalReadGrant
    func write(_ data: ByteBuffer, to file: OpenFile, at offset: UInt64, context: OperationContext) async throws
        -> Int
    func truncate(_ file: OpenFile, to size: UInt64, context: OperationContext) async throws
    func synchronize(_ file: OpenFile, dataOnly: Bool, context: OperationContext) async throws
    func flush(_ file: OpenFile, context: OperationContext) async throws
    func allocate(
        _ file: OpenFile, at offset: UInt64, length: UInt64, keepSize: Bool, context: OperationContext
    ) async throws
    func discard(_ file: OpenFile, at offset: UInt64, length: UInt64, context: OperationContext) async throws
    func zeroFill(_ file: OpenFile, at offset: UInt64, length: UInt64, context: OperationContext) async throws
    func seek(_ file: OpenFile, from offset: UInt64, to target: SeekTarget, context: OperationContext) async throws
        -> UInt64
    func lock(_ file: OpenFile, _ request: LockRequest, wait: Bool, context: OperationContext) async throws
    func testLock(_ file: OpenFile, _ request: LockRequest, context: OperationContext) async throws -> LockRequest?

    // MARK: Namespace
    func unlink(_ name: String, in parent: FileID, context: OperationContext) async throws
    func makeDirectory(
        _ name: String, in parent: FileID, id: FileID, permissions: UInt32, context: OperationContext
    ) async throws -> FileAttributes
    func removeDirectory(_ name: String, in parent: FileID, context: OperationContext) async throws
    func readDirectory(_ directory: FileID, after cookie: UInt64, countMax: Int, context: OperationContext)
        async throws -> DirectoryPage
    func rename(
        _ name: String, in parent: FileID, to newName: String, in newParent: FileID, flags: RenameFlags,
        context: OperationContext
    ) async throws
    func link(_ file: FileID, as name: String, in parent: FileID, context: OperationContext) async throws
        -> FileAttributes
    func makeSymbolicLink(
        _ name: String, in parent: FileID, id: FileID, target: String, context: OperationContext
    ) async throws -> FileAttributes
    func readSymbolicLink(_ file: FileID, context: OperationContext) async throws -> String
    /// Makes a FIFO, socket, empty regular file or device node. `device` is the device number (`st_rdev`, in
    /// glibc's `makedev` encoding) of a character or block device and 0 for every other type.
    func makeNode(
        _ name: String, in parent: FileID, id: FileID, type: FileType, permissions: UInt32, device: UInt64,
        context: OperationContext
    ) async throws -> FileAttributes
    func fileSystemStatistics(context: OperationContext) async throws -> FileSystemStatistics

    // MARK: Extended attributes
    func extendedAttribute(_ name: String, of file: FileID, context: OperationContext) async throws -> [UInt8]
    func setExtendedAttribute(
        _ name: String, to value: [UInt8], mode: ExtendedAttributeMode, of file: FileID, context: OperationContext
    ) async throws
    func extendedAttributeNames(of file: FileID, context: OperationContext) async throws -> [String]
    func removeExtendedAttribute(_ name: String, of file: FileID, context: OperationContext) async throws

    // MARK: Control
    /// A control message of replication (``ControlRequest``), sent to one brick by the members of its replica set
    /// and by the daemon that heartbeats them. Bricks of replicated volumes act on it; everything else refuses it.
    func control(_ request: ControlRequest, context: OperationContext) async throws -> ControlReply
}
