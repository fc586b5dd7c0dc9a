import MortarCore
import NIOCore

/// Every operation of ``FileOperations`` as a message, one case each. The raw opcode is the case's position in
/// `docs/operations.md` and never changes once shipped; new operations take new numbers.
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
    case makeNode(name: String, parent: FileID, id: FileID, type: FileType, permissions: UInt32)
    case fileSystemStatistics
    case extendedAttribute(name: String, FileID)
    case setExtendedAttribute(name: String, value: [UInt8], mode: ExtendedAttributeMode, FileID)
    case extendedAttributeNames(FileID)
    case removeExtendedAttribute(name: String, FileID)

    /// The opcode written before the request's fields.
    public var opcode: UInt8 {
        switch self {
        case .lookup: 1
        case .attributes: 2
        case .attributesOfOpen: 3
        case .setAttributes: 4
        case .checkAccess: 5
        case .create: 6
        case .open: 7
        case .release: 8
        case .read: 9
        case .write: 10
        case .truncate: 11
        case .synchronize: 12
        case .flush: 13
        case .allocate: 14
        case .discard: 15
        case .zeroFill: 16
        case .seek: 17
        case .lock: 18
        case .testLock: 19
        case .unlink: 20
        case .makeDirectory: 21
        case .removeDirectory: 22
        case .readDirectory: 23
        case .rename: 24
        case .link: 25
        case .makeSymbolicLink: 26
        case .readSymbolicLink: 27
        case .makeNode: 28
        case .fileSystemStatistics: 29
        case .extendedAttribute: 30
        case .setExtendedAttribute: 31
        case .extendedAttributeNames: 32
        case .removeExtendedAttribute: 33
        }
    }

    /// Whether running the request twice has the same effect as running it once. Only these are retried after a
    /// connection is re-established.
    public var isIdempotent: Bool {
        switch self {
        case .lookup, .attributes, .attributesOfOpen, .checkAccess, .read, .readDirectory, .readSymbolicLink,
            .fileSystemStatistics, .extendedAttribute, .extendedAttributeNames, .seek, .testLock, .flush,
            .synchronize, .write, .truncate, .discard, .zeroFill, .allocate, .setAttributes:
            true
        default:
            false
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
