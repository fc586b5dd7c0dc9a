import MortarCore
import NIOCore

/// Every operation of ``FileOperations`` as a message, one case each, in the protocol's order. Its number on the
/// wire is its ``Opcode``.
public enum Request: Sendable {
    case lookup(name: String, parent: FileID)
    case attributes(FileID)
    case attributesOfOpen(OpenFile)
    case setAttributes(AttributeChanges, FileID)
    case checkAccess(AccessMask, FileID)
    case create(name: String, parent: FileID, id: FileID, permissions: UInt32, flags: OpenFlags)
    case open(FileID, flags: OpenFlags)
    case release(OpenFile)
    case read(OpenFile, offset: UInt64, count: UInt32)
    case write(OpenFile, offset: UInt64, data: ByteBuffer)
    case truncate(OpenFile, size: UInt64)
    case synchronize(OpenFile, dataOnly: Bool)
    case flush(OpenFile)
    case allocate(OpenFile, offset: UInt64, length: UInt64, keepSize: Bool)
    case discard(OpenFile, offset: UInt64, length: UInt64)
    case zeroFill(OpenFile, offset: UInt64, length: UInt64)
    case seek(OpenFile, offset: UInt64, target: SeekTarget)
    case lock(OpenFile, LockRequest, wait: Bool)
    case testLock(OpenFile, LockRequest)
    case unlink(name: String, parent: FileID)
    case makeDirectory(name: String, parent: FileID, id: FileID, permissions: UInt32)
    case removeDirectory(name: String, parent: FileID)
    case readDirectory(FileID, cookie: UInt64, countMax: UInt32)
    case rename(name: String, parent: FileID, newName: String, newParent: FileID, flags: RenameFlags)
    case link(FileID, name: String, parent: FileID)
    case makeSymbolicLink(name: String, parent: FileID, id: FileID, target: String)
    case readSymbolicLink(FileID)
    case makeNode(name: String, parent: FileID, id: FileID, type: FileType, permissions: UInt32, device: UInt64)
    case fileSystemStatistics
    case extendedAttribute(name: String, FileID)
    case setExtendedAttribute(name: String, value: [UInt8], mode: ExtendedAttributeMode, FileID)
    case extendedAttributeNames(FileID)
    case removeExtendedAttribute(name: String, FileID)
    case control(ControlRequest)
    case openAndRead(FileID, flags: OpenFlags, count: UInt32)
    case lookupAndRead(name: String, parent: FileID, flags: OpenFlags, count: UInt32)
    case grantLocalRead(OpenFile)

    /// The request's opcode. Exhaustive: a new case does not compile until it has its number.
    public var opcode: Opcode {
        switch self {
        case .lookup: .lookup
        case .attributes: .attributes
        case .attributesOfOpen: .attributesOfOpen
        case .setAttributes: .setAttributes
        case .checkAccess: .checkAccess
        case .create: .create
        case .open: .open
        case .release: .release
        case .read: .read
        case .write: .write
        case .truncate: .truncate
        case .synchronize: .synchronize
        case .flush: .flush
        case .allocate: .allocate
        case .discard: .discard
        case .zeroFill: .zeroFill
        case .seek: .seek
        case .lock: .lock
        case .testLock: .testLock
        case .unlink: .unlink
        case .makeDirectory: .makeDirectory
        case .removeDirectory: .removeDirectory
        case .readDirectory: .readDirectory
        case .rename: .rename
        case .link: .link
        case .makeSymbolicLink: .makeSymbolicLink
        case .readSymbolicLink: .readSymbolicLink
        case .makeNode: .makeNode
        case .fileSystemStatistics: .fileSystemStatistics
        case .extendedAttribute: .extendedAttribute
        case .setExtendedAttribute: .setExtendedAttribute
        case .extendedAttributeNames: .extendedAttributeNames
        case .removeExtendedAttribute: .removeExtendedAttribute
        case .control: .control
        case .openAndRead: .openAndRead
        case .lookupAndRead: .lookupAndRead
        case .grantLocalRead: .grantLocalRead
        }
    }

    /// Whether the request's answer can hand over an open file, which the client must release even if it stopped
    /// waiting for the answer. Every operation is listed: a new one must choose.
    public var opensFile: Bool {
        switch self {
        case .create, .open, .openAndRead, .lookupAndRead:
            true
        case .lookup, .attributes, .attributesOfOpen, .checkAccess, .read, .readDirectory, .readSymbolicLink,
            .fileSystemStatistics, .extendedAttribute, .extendedAttributeNames, .seek, .testLock, .flush,
            .synchronize, .write, .truncate, .discard, .zeroFill, .allocate, .setAttributes, .grantLocalRead,
            .release, .lock, .unlink, .makeDirectory, .removeDirectory, .rename, .link, .makeSymbolicLink, .makeNode,
            .setExtendedAttribute, .removeExtendedAttribute, .control:
            false
        }
    }

    /// Whether running the request twice has the same effect as running it once. Only these are retried after a
    /// connection is re-established. Every operation is listed: a new one must choose.
    public var isIdempotent: Bool {
        switch self {
        case .lookup, .attributes, .attributesOfOpen, .checkAccess, .read, .readDirectory, .readSymbolicLink,
            .fileSystemStatistics, .extendedAttribute, .extendedAttributeNames, .seek, .testLock, .flush,
            .synchronize, .write, .truncate, .discard, .zeroFill, .allocate, .setAttributes, .grantLocalRead:
            true
        case .create, .open, .openAndRead, .lookupAndRead, .release, .lock, .unlink, .makeDirectory, .removeDirectory, .rename, .link,
            .makeSymbolicLink, .makeNode, .setExtendedAttribute, .removeExtendedAttribute:
            false
        case .control(let request):
            request.isIdempotent
        }
    }
}

/// The caller's identity, and for replicated volumes the epoch and role, as they travel with each request.
public struct WireCredentials: Sendable, Hashable {
    public var userID: UInt32
    public var groupID: UInt32
    public var supplementaryGroupIDs: [UInt32]
    public var processID: Int32
    public var replication: ReplicationStamp

    public init(
        userID: UInt32, groupID: UInt32, supplementaryGroupIDs: [UInt32], processID: Int32,
        replication: ReplicationStamp = .none
    ) {
        self.userID = userID
        self.groupID = groupID
        self.supplementaryGroupIDs = supplementaryGroupIDs
        self.processID = processID
        self.replication = replication
    }

    public init(_ context: OperationContext) {
        self.init(
            userID: context.userID, groupID: context.groupID, supplementaryGroupIDs: context.supplementaryGroupIDs,
            processID: context.processID, replication: context.replication)
    }

    /// Supplementary groups one request may carry (as Linux's NGROUPS_MAX).
    public static let supplementaryGroupsMax = 65_536
}
