import MortarCore

extension MemoryModel {
    /// Checks that `name` may be added to `parent` and returns the parent.
    func requireFreeName(_ name: String, in parent: FileID) throws -> Inode {
        try EntryName.validate(name)
        let directory = try directory(parent)
        guard directory.entries[name] == nil else {
            throw FileSystemError(.exists, "'\(name)' already exists in directory \(parent)")
        }
        return directory
    }

    /// Enters a new object under `name` and updates the parent's times (and link count for a directory).
    mutating func insert(_ inode: Inode, as name: String, in parent: FileID) {
        var inode = inode
        if inode.type == .directory {
            inode.parent = parent
            inodes[parent]?.attributes.linkCount += 1
        }
        inodes[inode.id] = inode
        inodes[parent]?.entries[name] = inode.id
        touch(parent)
    }

    mutating func makeDirectory(
        _ name: String, in parent: FileID, id: FileID, permissions: UInt32, context: OperationContext
    ) throws -> FileAttributes {
        _ = try requireFreeName(name, in: parent)
        try requireUnused(id)
        insert(makeInode(id: id, type: .directory, permissions: permissions, context: context), as: name, in: parent)
        return try attributes(id)
    }

    mutating func makeSymbolicLink(
        _ name: String, in parent: FileID, id: FileID, target: String, context: OperationContext
    ) throws -> FileAttributes {
        _ = try requireFreeName(name, in: parent)
        try requireUnused(id)
        guard !target.isEmpty else { throw FileSystemError.notFound("empty symbolic link target") }
        guard target.utf8.count < Limits.pathByteCountMax else {
            throw FileSystemError(.nameTooLong, "symbolic link target of \(target.utf8.count) bytes is too long")
        }
        var inode = makeInode(id: id, type: .symbolicLink, permissions: 0o777, context: context)
        inode.symbolicLinkTarget = target
        inode.attributes.size = UInt64(target.utf8.count)
        insert(inode, as: name, in: parent)
        return try attributes(id)
    }

    mutating func makeNode(
        _ name: String, in parent: FileID, id: FileID, type: FileType, permissions: UInt32, device: UInt64,
        context: OperationContext
    ) throws -> FileAttributes {
        guard type != .directory, type != .symbolicLink else {
            throw FileSystemError.invalidArgument(
                "makeNode cannot make a \(type); use makeDirectory or makeSymbolicLink")
        }
        _ = try requireFreeName(name, in: parent)
        try requireUnused(id)
        var inode = makeInode(id: id, type: type, permissions: permissions, context: context)
        // As mknod(2): only device nodes keep a device number.
        inode.attributes.deviceNumber = type == .characterDevice || type == .blockDevice ? device : 0
        insert(inode, as: name, in: parent)
        return try attributes(id)
    }

    mutating func unlink(_ name: String, in parent: FileID) throws {
        let id = try entry(name, in: parent)
        guard try inode(id).type != .directory else {
            throw FileSystemError(.isDirectory, "'\(name)' in \(parent) is a directory; use removeDirectory")
        }
        inodes[parent]?.entries[name] = nil
        touch(parent)
        dropLink(id)
    }

    mutating func removeDirectory(_ name: String, in parent: FileID) throws {
        let id = try entry(name, in: parent)
        let directory = try inode(id)
        guard directory.type == .directory else {
            throw FileSystemError(.notDirectory, "'\(name)' in \(parent) is a \(directory.type), not a directory")
        }
        guard directory.entries.isEmpty else {
            throw FileSystemError(.notEmpty, "directory '\(name)' in \(parent) has \(directory.entries.count) entries")
        }
        inodes[parent]?.entries[name] = nil
        inodes[parent]?.attributes.linkCount -= 1
        touch(parent)
        dropLink(id)
    }

    mutating func link(_ id: FileID, as name: String, in parent: FileID) throws -> FileAttributes {
        let inode = try inode(id)
        guard inode.type != .directory else {
            throw FileSystemError(.operationNotPermitted, "cannot hard-link directory \(id)")
        }
        guard inode.attributes.linkCount > 0 else {
            throw FileSystemError.notFound("FileID \(id) has been unlinked; it cannot get a new name")
        }
        _ = try requireFreeName(name, in: parent)
        inodes[parent]?.entries[name] = id
        inodes[id]?.attributes.linkCount += 1
        touch(id, modification: false)
        touch(parent)
        return try attributes(id)
    }

    func readSymbolicLink(_ id: FileID) throws -> String {
        let inode = try inode(id)
        guard inode.type == .symbolicLink else {
            throw FileSystemError.invalidArgument("FileID \(id) is a \(inode.type), not a symbolic link")
        }
        return inode.symbolicLinkTarget
    }

    // MARK: Directory listing

    /// Cookie of an entry: a 48-bit hash of its name, never 0 (0 starts a listing).
    ///
    /// Listings are in cookie order and a page continues with the entries whose cookie is greater than the one it
    /// was given, so a cookie stays valid however the directory changes between pages: entries that are neither
    /// added nor removed meanwhile are listed exactly once. (Index-based cookies would skip an entry whenever an
    /// earlier one is removed.) Cookies fit in 48 bits so that cluster layers can keep a child index in the high
    /// bits of their own cookies.
    static func cookie(of name: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in name.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        return hash % ((1 << 48) - 1) + 1
    }

    func readDirectory(_ id: FileID, after cookie: UInt64, countMax: Int) throws -> DirectoryPage {
        guard countMax > 0 else { throw FileSystemError.invalidArgument("countMax \(countMax) must be positive") }
        let directory = try directory(id)
        let ordered = directory.entries
            .map { (cookie: Self.cookie(of: $0.key), name: $0.key, id: $0.value) }
            .filter { $0.cookie > cookie }
            .sorted { ($0.cookie, $0.name) < ($1.cookie, $1.name) }
        var page = Array(ordered.prefix(min(countMax, Limits.directoryPageEntriesMax)))
        // Never end a page between two names whose cookies collide: the second would be skipped.
        if let last = page.last, page.count < ordered.count, ordered[page.count].cookie == last.cookie {
            let groupStart = page.firstIndex { $0.cookie == last.cookie } ?? 0
            if groupStart > 0 {
                page.removeSubrange(groupStart...)
            } else {
                page = Array(ordered.prefix { $0.cookie == last.cookie })
            }
        }
        let entries = try page.map { DirectoryEntry(name: $0.name, attributes: try attributes($0.id)) }
        let nextCookie = page.count < ordered.count ? page.last?.cookie : nil
        return DirectoryPage(entries: entries, nextCookie: nextCookie)
    }
}
