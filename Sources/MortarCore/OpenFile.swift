import NIOCore

/// How a file is opened. Mortar's own bits, independent of any platform's `O_*` values; ``init(posixFlags:)`` and
/// ``posixFlags`` convert at the C ABI and FUSE edges.
public struct OpenFlags: OptionSet, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let read = OpenFlags(rawValue: 1 << 0)
    public static let write = OpenFlags(rawValue: 1 << 1)
    public static let create = OpenFlags(rawValue: 1 << 2)
    public static let exclusive = OpenFlags(rawValue: 1 << 3)
    public static let truncate = OpenFlags(rawValue: 1 << 4)
    public static let append = OpenFlags(rawValue: 1 << 5)
    public static let direct = OpenFlags(rawValue: 1 << 6)
    public static let synchronous = OpenFlags(rawValue: 1 << 7)
    public static let dataSynchronous = OpenFlags(rawValue: 1 << 8)
    public static let noFollow = OpenFlags(rawValue: 1 << 9)
    public static let directory = OpenFlags(rawValue: 1 << 10)
    public static let noAccessTime = OpenFlags(rawValue: 1 << 11)

    public static let readWrite: OpenFlags = [.read, .write]

    /// Bits that only matter when the file is first opened; a reopen after a reconnect drops them.
    public static let creationOnly: OpenFlags = [.create, .exclusive, .truncate]

    /// Converts Linux `open(2)` flags. Unknown bits are ignored, as the kernel ignores them.
    public init(posixFlags: Int32) {
        var flags: OpenFlags = []
        switch posixFlags & 0o3 {
        case 0o1: flags.insert(.write)
        case 0o2: flags.formUnion(.readWrite)
        default: flags.insert(.read)
        }
        let table: [(Int32, OpenFlags)] = [
            (0o100, .create), (0o200, .exclusive), (0o1000, .truncate), (0o2000, .append), (0o40000, .direct),
            (0o4010000, .synchronous), (0o10000, .dataSynchronous), (0o400000, .noFollow), (0o200000, .directory),
            (0o1000000, .noAccessTime),
        ]
        for (bits, flag) in table where posixFlags & bits == bits { flags.insert(flag) }
        self = flags
    }

    /// The Linux `open(2)` flags for these options.
    public var posixFlags: Int32 {
        var bits: Int32
        switch (contains(.read), contains(.write)) {
        case (true, true): bits = 0o2
        case (false, true): bits = 0o1
        default: bits = 0
        }
        if contains(.create) { bits |= 0o100 }
        if contains(.exclusive) { bits |= 0o200 }
        if contains(.truncate) { bits |= 0o1000 }
        if contains(.append) { bits |= 0o2000 }
        if contains(.direct) { bits |= 0o40000 }
        if contains(.synchronous) { bits |= 0o4010000 }
        if contains(.dataSynchronous) { bits |= 0o10000 }
        if contains(.noFollow) { bits |= 0o400000 }
        if contains(.directory) { bits |= 0o200000 }
        if contains(.noAccessTime) { bits |= 0o1000000 }
        return bits
    }
}

/// A file opened through some ``FileOperations``: its identity plus a handle whose meaning belongs to the layer
/// that issued it. Layers above pass it through unchanged.
public struct OpenFile: Hashable, Sendable {
    public var id: FileID
    public var handle: UInt64

    public init(id: FileID, handle: UInt64) {
        self.id = id
        self.handle = handle
    }
}

/// The result of `create`: the new file, open, and its attributes.
public struct CreatedFile: Hashable, Sendable {
    public var file: OpenFile
    public var attributes: FileAttributes

    public init(file: OpenFile, attributes: FileAttributes) {
        self.file = file
        self.attributes = attributes
    }
}

/// The result of `openAndRead`: the file, open for reading, and the first bytes of its data (fewer than asked for
/// only where the file ends).
public struct OpenedFile: Hashable, Sendable {
    public var file: OpenFile
    public var head: ByteBuffer

    public init(file: OpenFile, head: ByteBuffer) {
        self.file = file
        self.head = head
    }
}

/// The result of `lookupAndRead`: what the name is, and when it was opened, the open file with its head.
public struct FoundFile: Hashable, Sendable {
    public var attributes: FileAttributes
    public var opened: OpenedFile?

    public init(attributes: FileAttributes, opened: OpenedFile?) {
        self.attributes = attributes
        self.opened = opened
    }
}

extension OpenFlags {
    /// What `openAndRead` refuses: it opens for reading only, and changes nothing.
    public static let changing: OpenFlags = [.write, .create, .exclusive, .truncate, .append]
}

extension FileOperations {
    /// What every back end of `openAndRead` checks first: no flag that changes anything, a count within
    /// 0…`Limits.quickReadByteCountMax`.
    public static func checkOpenAndRead(flags: OpenFlags, count: Int) throws {
        guard flags.isDisjoint(with: .changing) else {
            throw FileSystemError.invalidArgument(
                "open-and-read opens for reading only; flags \(flags.rawValue) change the file")
        }
        guard count >= 0, count <= Limits.quickReadByteCountMax else {
            throw FileSystemError.invalidArgument(
                "open-and-read of \(count) bytes is outside 0...\(Limits.quickReadByteCountMax)")
        }
    }
}

/// The answer to `grantLocalRead`: the token that claims a read-only descriptor of the file, once, on the brick's
/// descriptor hand-off socket, within `Limits.localReadGrantMilliseconds`. 128 random bits: a session's grant
/// cannot be guessed by another local process.
public struct LocalReadGrant: Sendable, Hashable {
    public var token: UInt128
    public init(token: UInt128) { self.token = token }
}

/// Where `seek` looks from a given offset (SEEK_DATA / SEEK_HOLE).
public enum SeekTarget: UInt8, Sendable, Hashable {
    case data = 3
    case hole = 4
}

/// What `access(2)` checks. An empty mask checks existence only (F_OK).
public struct AccessMask: OptionSet, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let execute = AccessMask(rawValue: 1)
    public static let write = AccessMask(rawValue: 2)
    public static let read = AccessMask(rawValue: 4)
}

/// `renameat2(2)` flags.
public struct RenameFlags: OptionSet, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// Fail with EEXIST rather than replace the target.
    public static let noReplace = RenameFlags(rawValue: 1)
    /// Swap source and target atomically.
    public static let exchange = RenameFlags(rawValue: 2)
}

/// How `setExtendedAttribute` treats an existing attribute (XATTR_CREATE / XATTR_REPLACE).
public enum ExtendedAttributeMode: UInt8, Sendable, Hashable {
    case createOrReplace = 0
    case createOnly = 1
    case replaceOnly = 2
}

/// A POSIX byte-range lock request (`struct flock`).
public struct LockRequest: Hashable, Sendable {
    public enum Kind: UInt8, Sendable, Hashable {
        case read = 0
        case write = 1
        case unlock = 2
    }

    public var kind: Kind
    public var start: UInt64
    /// Bytes covered; 0 means "to the end of the file, however large it grows".
    public var length: UInt64
    /// Who holds the lock, as the client names it (POSIX: the process; FUSE: the lock owner).
    public var owner: UInt64
    /// The process id reported back by a conflicting-lock query.
    public var processID: Int32

    public init(kind: Kind, start: UInt64, length: UInt64, owner: UInt64, processID: Int32 = 0) {
        self.kind = kind
        self.start = start
        self.length = length
        self.owner = owner
        self.processID = processID
    }

    /// The last byte covered, inclusive.
    public var end: UInt64 {
        length == 0 ? UInt64.max : start &+ (length - 1) < start ? UInt64.max : start + (length - 1)
    }
}

extension FileOperations {
    /// The data segments of an open file below `size` (`SEEK_DATA` / `SEEK_HOLE`), in order: what a copy must
    /// read and write so that holes stay holes (a heal, a rebalance's move).
    public func dataSegments(of file: OpenFile, size: UInt64, context: OperationContext) async throws
        -> [Range<UInt64>]
    {
        var segments: [Range<UInt64>] = []
        var position: UInt64 = 0
        while position < size {
            let start: UInt64
            do {
                start = try await seek(file, from: position, to: .data, context: context)
            } catch let error as FileSystemError where error.code == .noSuchDeviceOrAddress {
                break  // ENXIO: no data after `position`
            }
            let end = min(try await seek(file, from: start, to: .hole, context: context), size)
            guard end > start else { break }
            segments.append(start..<end)
            position = end
        }
        return segments
    }
}
