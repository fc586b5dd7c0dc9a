/// What kind of object a FileID names.
public enum FileType: UInt8, Sendable, Hashable, CaseIterable {
    case regular = 1
    case directory = 2
    case symbolicLink = 3
    case fifo = 4
    case socket = 5
    case characterDevice = 6
    case blockDevice = 7

    /// The `S_IFMT` bits of `st_mode` for this type.
    public var modeBits: UInt32 {
        switch self {
        case .regular: 0o100000
        case .directory: 0o040000
        case .symbolicLink: 0o120000
        case .fifo: 0o010000
        case .socket: 0o140000
        case .characterDevice: 0o020000
        case .blockDevice: 0o060000
        }
    }

    public init?(modeBits: UInt32) {
        guard let type = FileType.allCases.first(where: { $0.modeBits == modeBits & 0o170000 }) else { return nil }
        self = type
    }
}

/// A point in time with nanosecond precision, as POSIX `struct timespec`.
public struct Timestamp: Hashable, Sendable, Comparable {
    public var seconds: Int64
    public var nanoseconds: UInt32

    public init(seconds: Int64, nanoseconds: UInt32 = 0) {
        precondition(nanoseconds < 1_000_000_000, "nanoseconds out of range: \(nanoseconds)")
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }

    public static let zero = Timestamp(seconds: 0)

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
        (lhs.seconds, lhs.nanoseconds) < (rhs.seconds, rhs.nanoseconds)
    }
}

/// The attributes of a file as `stat` reports them (GlusterFS called this the iatt).
public struct FileAttributes: Hashable, Sendable {
    public var id: FileID
    public var type: FileType
    /// Permission bits, including set-user-id, set-group-id and sticky (`mode & 0o7777`).
    public var permissions: UInt32
    public var linkCount: UInt32
    public var userID: UInt32
    public var groupID: UInt32
    public var size: UInt64
    /// Space used, in 512-byte units (`st_blocks`).
    public var blocks: UInt64
    public var blockSize: UInt32
    public var deviceNumber: UInt64
    public var accessTime: Timestamp
    public var modificationTime: Timestamp
    public var changeTime: Timestamp

    public init(
        id: FileID, type: FileType, permissions: UInt32, linkCount: UInt32 = 1, userID: UInt32 = 0,
        groupID: UInt32 = 0, size: UInt64 = 0, blocks: UInt64 = 0, blockSize: UInt32 = 4096,
        deviceNumber: UInt64 = 0, accessTime: Timestamp = .zero, modificationTime: Timestamp = .zero,
        changeTime: Timestamp = .zero
    ) {
        self.id = id
        self.type = type
        self.permissions = permissions & 0o7777
        self.linkCount = linkCount
        self.userID = userID
        self.groupID = groupID
        self.size = size
        self.blocks = blocks
        self.blockSize = blockSize
        self.deviceNumber = deviceNumber
        self.accessTime = accessTime
        self.modificationTime = modificationTime
        self.changeTime = changeTime
    }

    /// `st_mode`: type bits plus permission bits.
    public var mode: UInt32 { type.modeBits | permissions }
}

/// A change to a file's times: to the current time, or to a given time.
public enum TimeChange: Hashable, Sendable {
    case now
    case set(Timestamp)
}

/// The attributes `setAttributes` changes; `nil` leaves a field alone. Covers chmod, chown, truncate and utimens.
public struct AttributeChanges: Hashable, Sendable {
    public var permissions: UInt32?
    public var userID: UInt32?
    public var groupID: UInt32?
    public var size: UInt64?
    public var accessTime: TimeChange?
    public var modificationTime: TimeChange?

    public init(
        permissions: UInt32? = nil, userID: UInt32? = nil, groupID: UInt32? = nil, size: UInt64? = nil,
        accessTime: TimeChange? = nil, modificationTime: TimeChange? = nil
    ) {
        self.permissions = permissions
        self.userID = userID
        self.groupID = groupID
        self.size = size
        self.accessTime = accessTime
        self.modificationTime = modificationTime
    }

    public var isEmpty: Bool { self == AttributeChanges() }
}

/// One entry of a directory listing, with its attributes (readdirplus).
public struct DirectoryEntry: Hashable, Sendable {
    public var name: String
    public var attributes: FileAttributes

    public init(name: String, attributes: FileAttributes) {
        self.name = name
        self.attributes = attributes
    }
}

/// One page of a directory listing. `nextCookie` continues the listing; `nil` means the listing is complete.
/// Listings are stateless: a cookie stays meaningful across calls, connections and clients.
public struct DirectoryPage: Hashable, Sendable {
    public var entries: [DirectoryEntry]
    public var nextCookie: UInt64?

    public init(entries: [DirectoryEntry], nextCookie: UInt64?) {
        self.entries = entries
        self.nextCookie = nextCookie
    }
}

/// What `statvfs` reports.
public struct FileSystemStatistics: Hashable, Sendable {
    public var blockSize: UInt64
    public var fragmentSize: UInt64
    public var blocks: UInt64
    public var blocksFree: UInt64
    public var blocksAvailable: UInt64
    public var files: UInt64
    public var filesFree: UInt64
    public var filesAvailable: UInt64
    public var fileSystemID: UInt64
    public var flags: UInt64
    public var nameLengthMax: UInt64

    public init(
        blockSize: UInt64, fragmentSize: UInt64, blocks: UInt64, blocksFree: UInt64, blocksAvailable: UInt64,
        files: UInt64, filesFree: UInt64, filesAvailable: UInt64, fileSystemID: UInt64 = 0, flags: UInt64 = 0,
        nameLengthMax: UInt64 = UInt64(Limits.nameByteCountMax)
    ) {
        self.blockSize = blockSize
        self.fragmentSize = fragmentSize
        self.blocks = blocks
        self.blocksFree = blocksFree
        self.blocksAvailable = blocksAvailable
        self.files = files
        self.filesFree = filesFree
        self.filesAvailable = filesAvailable
        self.fileSystemID = fileSystemID
        self.flags = flags
        self.nameLengthMax = nameLengthMax
    }
}
