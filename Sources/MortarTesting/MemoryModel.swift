import MortarCore

/// One object of ``MemoryFileSystem``: its attributes plus what its type holds.
struct Inode: Sendable {
    var attributes: FileAttributes
    /// Name → FileID, for directories.
    var entries: [String: FileID] = [:]
    /// The directory that holds this directory (directories have exactly one name). The root is its own parent.
    var parent: FileID?
    var content = FileContent()
    var symbolicLinkTarget = ""
    var extendedAttributes: [String: [UInt8]] = [:]
    /// Handles open on this object; an unlinked object lives until the last one is released.
    var openCount = 0

    var id: FileID { attributes.id }
    var type: FileType { attributes.type }
}

/// An open handle: which object, opened how.
struct OpenHandle: Sendable {
    var id: FileID
    var flags: OpenFlags
}

/// The whole state of ``MemoryFileSystem``, a value mutated under the file system's lock.
///
/// Every method either succeeds completely or throws before changing anything, so a failed operation leaves the
/// model as it was (as a POSIX call does).
struct MemoryModel: Sendable {
    var inodes: [FileID: Inode] = [:]
    var handles: [UInt64: OpenHandle] = [:]
    var nextHandle: UInt64 = 1
    let clock: (@Sendable () -> Timestamp)?
    var tick: Int64 = 0
    let fileByteCountMax: UInt64

    init(clock: (@Sendable () -> Timestamp)?, fileByteCountMax: UInt64) {
        self.clock = clock
        self.fileByteCountMax = fileByteCountMax
        let start = Timestamp(seconds: Self.countingClockStartSeconds)
        var root = Inode(
            attributes: FileAttributes(
                id: .root, type: .directory, permissions: 0o755, linkCount: 2, accessTime: start,
                modificationTime: start, changeTime: start))
        root.parent = .root
        inodes[.root] = root
    }

    /// Where the counting clock starts: a plausible present (November 2023), so that times a test sets in the past
    /// compare as they would on a real file system.
    static let countingClockStartSeconds: Int64 = 1_700_000_000

    /// The current time: the injected clock, or a counter that advances one second per call.
    mutating func now() -> Timestamp {
        if let clock { return clock() }
        tick += 1
        return Timestamp(seconds: Self.countingClockStartSeconds + tick)
    }

    // MARK: Looking things up

    func inode(_ id: FileID) throws -> Inode {
        guard let inode = inodes[id] else { throw FileSystemError.notFound("no file with FileID \(id)") }
        return inode
    }

    func directory(_ id: FileID) throws -> Inode {
        let inode = try inode(id)
        guard inode.type == .directory else {
            throw FileSystemError(.notDirectory, "FileID \(id) is a \(inode.type), not a directory")
        }
        return inode
    }

    /// The FileID `name` names in `parent`, after validating the name.
    func entry(_ name: String, in parent: FileID) throws -> FileID {
        try EntryName.validate(name)
        guard let id = try directory(parent).entries[name] else {
            throw FileSystemError.notFound("no entry '\(name)' in directory \(parent)")
        }
        return id
    }

    func attributes(_ id: FileID) throws -> FileAttributes {
        let inode = try inode(id)
        var attributes = inode.attributes
        if inode.type == .regular {
            attributes.size = inode.content.size
            attributes.blocks = inode.content.usedSectors
        }
        return attributes
    }

    func handle(_ file: OpenFile) throws -> OpenHandle {
        guard let handle = handles[file.handle], handle.id == file.id else {
            throw FileSystemError(.badFileHandle, "handle \(file.handle) is not open for FileID \(file.id)")
        }
        return handle
    }

    /// The open handle, checked to carry `required` access (EBADF otherwise, as for a read on a write-only fd).
    func handle(_ file: OpenFile, requiring required: OpenFlags) throws -> OpenHandle {
        let handle = try handle(file)
        guard handle.flags.isSuperset(of: required) else {
            throw FileSystemError(.badFileHandle, "handle \(file.handle) of \(file.id) is not open for \(required)")
        }
        return handle
    }

    // MARK: Changing things

    mutating func touch(_ id: FileID, modification: Bool = true) {
        let time = now()
        if modification { inodes[id]?.attributes.modificationTime = time }
        inodes[id]?.attributes.changeTime = time
    }

    /// Refuses a FileID that already names an object: the caller picks FileIDs and must pick fresh ones.
    func requireUnused(_ id: FileID) throws {
        guard inodes[id] == nil else { throw FileSystemError(.exists, "FileID \(id) is already in use") }
    }

    /// A new object, owned by the caller, with every time set to now.
    mutating func makeInode(
        id: FileID, type: FileType, permissions: UInt32, context: OperationContext
    ) -> Inode {
        let time = now()
        return Inode(
            attributes: FileAttributes(
                id: id, type: type, permissions: permissions, linkCount: type == .directory ? 2 : 1,
                userID: context.userID, groupID: context.groupID, accessTime: time, modificationTime: time,
                changeTime: time))
    }

    /// Drops one name of `id`; the object goes away once it has no names and no open handles.
    mutating func dropLink(_ id: FileID) {
        guard var inode = inodes[id] else { return }
        inode.attributes.linkCount -= inode.type == .directory ? 2 : 1
        inode.attributes.changeTime = now()
        if inode.attributes.linkCount == 0 && inode.openCount == 0 {
            inodes[id] = nil
        } else {
            inodes[id] = inode
        }
    }

    mutating func setAttributes(_ changes: AttributeChanges, of id: FileID) throws -> FileAttributes {
        var inode = try inode(id)
        if let size = changes.size {
            guard inode.type != .directory else { throw FileSystemError(.isDirectory, "cannot resize directory \(id)") }
            guard inode.type == .regular else {
                throw FileSystemError.invalidArgument("cannot resize \(inode.type) \(id)")
            }
            guard size <= fileByteCountMax else {
                throw FileSystemError(.fileTooLarge, "size \(size) exceeds the model's \(fileByteCountMax)")
            }
            if size != inode.content.size { inode.attributes.modificationTime = now() }
            inode.content.resize(to: size)
        }
        if let permissions = changes.permissions { inode.attributes.permissions = permissions & 0o7777 }
        if let userID = changes.userID { inode.attributes.userID = userID }
        if let groupID = changes.groupID { inode.attributes.groupID = groupID }
        if let change = changes.accessTime { inode.attributes.accessTime = time(for: change) }
        if let change = changes.modificationTime { inode.attributes.modificationTime = time(for: change) }
        inode.attributes.changeTime = now()
        inodes[id] = inode
        return try attributes(id)
    }

    private mutating func time(for change: TimeChange) -> Timestamp {
        switch change {
        case .now: now()
        case .set(let time): time
        }
    }

    func checkAccess(_ mask: AccessMask, to id: FileID, context: OperationContext) throws {
        let attributes = try inode(id).attributes
        let permissions = attributes.permissions
        guard context.userID != 0 else {
            let anyExecute = permissions & 0o111 != 0 || attributes.type == .directory
            guard !mask.contains(.execute) || anyExecute else {
                throw FileSystemError(.permissionDenied, "no execute bit on \(id)")
            }
            return
        }
        let shift: UInt32
        if context.userID == attributes.userID {
            shift = 6
        } else if context.groupID == attributes.groupID || context.supplementaryGroupIDs.contains(attributes.groupID) {
            shift = 3
        } else {
            shift = 0
        }
        let granted = (permissions >> shift) & 0o7
        guard granted & mask.rawValue == mask.rawValue else {
            throw FileSystemError(.permissionDenied, "mode \(String(permissions, radix: 8)) of \(id) denies \(mask)")
        }
    }
}
