import MortarCore

extension MemoryModel {
    /// `renameat2(2)`: replaces a file over a file and an empty directory over a directory, refuses a directory
    /// moved into its own subtree, and supports RENAME_NOREPLACE and RENAME_EXCHANGE.
    mutating func rename(
        _ name: String, in parent: FileID, to newName: String, in newParent: FileID, flags: RenameFlags
    ) throws {
        guard !flags.isSuperset(of: [.noReplace, .exchange]) else {
            throw FileSystemError.invalidArgument("rename flags noReplace and exchange exclude each other")
        }
        // Checks in the order Linux makes them, so that error codes agree when several apply.
        let sourceID = try entry(name, in: parent)
        try EntryName.validate(newName)
        let targetID = try directory(newParent).entries[newName]
        if flags.contains(.noReplace), targetID != nil {
            throw FileSystemError(.exists, "rename: '\(newName)' already exists in \(newParent)")
        }
        if flags.contains(.exchange), targetID == nil {
            throw FileSystemError.notFound("rename exchange: no entry '\(newName)' in \(newParent)")
        }
        let source = try inode(sourceID)
        if source.type == .directory { try requireNotInside(newParent, directory: sourceID) }
        if let targetID, let target = inodes[targetID], target.type == .directory {
            do {
                try requireNotInside(parent, directory: targetID)
            } catch where !flags.contains(.exchange) {
                throw FileSystemError(.notEmpty, "rename: '\(newName)' contains the source")
            }
        }
        guard let targetID else {
            move(name, from: parent, to: newName, in: newParent)
            return
        }
        // Two names of one file: POSIX says rename does nothing.
        if targetID == sourceID { return }
        if flags.contains(.exchange) {
            exchange(name, in: parent, with: newName, in: newParent)
            return
        }
        try requireReplaceable(try inode(targetID), by: source, name: newName)
        remove(newName, id: targetID, from: newParent)
        move(name, from: parent, to: newName, in: newParent)
    }

    /// EINVAL when `destination` is `directory` or lies below it.
    private func requireNotInside(_ destination: FileID, directory: FileID) throws {
        var current = destination
        for _ in 0..<Limits.directoryDepthMax {
            if current == directory {
                throw FileSystemError.invalidArgument("cannot move directory \(directory) into its own subtree")
            }
            guard current != .root, let parent = inodes[current]?.parent else { return }
            current = parent
        }
    }

    private func requireReplaceable(_ target: Inode, by source: Inode, name: String) throws {
        switch (source.type == .directory, target.type == .directory) {
        case (true, false):
            throw FileSystemError(.notDirectory, "rename: cannot replace non-directory '\(name)' with a directory")
        case (false, true):
            throw FileSystemError(.isDirectory, "rename: cannot replace directory '\(name)' with a non-directory")
        case (true, true) where !target.entries.isEmpty:
            throw FileSystemError(.notEmpty, "rename: directory '\(name)' is not empty")
        default:
            return
        }
    }

    private mutating func remove(_ name: String, id: FileID, from parent: FileID) {
        inodes[parent]?.entries[name] = nil
        if inodes[id]?.type == .directory { inodes[parent]?.attributes.linkCount -= 1 }
        dropLink(id)
    }

    private mutating func move(_ name: String, from parent: FileID, to newName: String, in newParent: FileID) {
        guard let id = inodes[parent]?.entries.removeValue(forKey: name) else { return }
        inodes[newParent]?.entries[newName] = id
        if inodes[id]?.type == .directory, parent != newParent {
            inodes[parent]?.attributes.linkCount -= 1
            inodes[newParent]?.attributes.linkCount += 1
            inodes[id]?.parent = newParent
        }
        touch(id, modification: false)
        touch(parent)
        touch(newParent)
    }

    private mutating func exchange(_ name: String, in parent: FileID, with newName: String, in newParent: FileID) {
        guard let first = inodes[parent]?.entries[name], let second = inodes[newParent]?.entries[newName] else {
            return
        }
        inodes[parent]?.entries[name] = second
        inodes[newParent]?.entries[newName] = first
        if parent != newParent {
            for (id, from, to) in [(first, parent, newParent), (second, newParent, parent)]
            where inodes[id]?.type == .directory {
                inodes[from]?.attributes.linkCount -= 1
                inodes[to]?.attributes.linkCount += 1
                inodes[id]?.parent = to
            }
        }
        touch(first, modification: false)
        touch(second, modification: false)
        touch(parent)
        touch(newParent)
    }
}
