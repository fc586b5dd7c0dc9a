import MortarCore

extension MemoryModel {
    /// Namespaces Linux accepts; any other prefix is EOPNOTSUPP.
    static let extendedAttributeNamespaces = ["user.", "trusted.", "security.", "system."]

    func validateExtendedAttributeName(_ name: String) throws {
        guard !name.isEmpty, name.utf8.count <= Limits.nameByteCountMax else {
            throw FileSystemError(.resultOutOfRange, "extended attribute name of \(name.utf8.count) bytes is invalid")
        }
        guard Self.extendedAttributeNamespaces.contains(where: { name.hasPrefix($0) && name.count > $0.count }) else {
            throw FileSystemError(.notSupported, "extended attribute '\(name)' is in no supported namespace")
        }
    }

    func extendedAttribute(_ name: String, of id: FileID) throws -> [UInt8] {
        try validateExtendedAttributeName(name)
        guard let value = try inode(id).extendedAttributes[name] else {
            throw FileSystemError(.noData, "no extended attribute '\(name)' on \(id)")
        }
        return value
    }

    mutating func setExtendedAttribute(
        _ name: String, to value: [UInt8], mode: ExtendedAttributeMode, of id: FileID
    ) throws {
        try validateExtendedAttributeName(name)
        let inode = try inode(id)
        guard value.count <= Limits.extendedAttributeValueByteCountMax else {
            throw FileSystemError(.argumentListTooLong, "extended attribute value of \(value.count) bytes is too large")
        }
        try Self.checkUserAttributeWritable(name, on: inode.type)
        let exists = inode.extendedAttributes[name] != nil
        switch mode {
        case .createOnly where exists:
            throw FileSystemError(.exists, "extended attribute '\(name)' already exists on \(id)")
        case .replaceOnly where !exists:
            throw FileSystemError(.noData, "no extended attribute '\(name)' on \(id) to replace")
        default:
            break
        }
        let names = inode.extendedAttributes.keys.filter { $0 != name } + [name]
        guard names.reduce(0, { $0 + $1.utf8.count + 1 }) <= Limits.extendedAttributeNamesByteCountMax else {
            throw FileSystemError(.noSpace, "extended attribute names of \(id) would exceed the limit")
        }
        inodes[id]?.extendedAttributes[name] = value
        touch(id, modification: false)
    }

    func extendedAttributeNames(of id: FileID) throws -> [String] {
        try inode(id).extendedAttributes.keys.sorted()
    }

    /// Linux keeps user attributes off symbolic links and special files: changing one there is EPERM (reading
    /// one is just ENODATA), checked before whether the attribute exists.
    static func checkUserAttributeWritable(_ name: String, on type: FileType) throws {
        if name.hasPrefix("user."), type != .regular, type != .directory {
            throw FileSystemError(.operationNotPermitted, "user extended attributes are not allowed on a \(type)")
        }
    }

    mutating func removeExtendedAttribute(_ name: String, of id: FileID) throws {
        try validateExtendedAttributeName(name)
        try Self.checkUserAttributeWritable(name, on: try inode(id).type)
        guard try inode(id).extendedAttributes[name] != nil else {
            throw FileSystemError(.noData, "no extended attribute '\(name)' on \(id) to remove")
        }
        inodes[id]?.extendedAttributes[name] = nil
        touch(id, modification: false)
    }

    func statistics() -> FileSystemStatistics {
        let blockCount: UInt64 = 1 << 20
        let fileCount: UInt64 = 1 << 20
        let usedBlocks = inodes.values.reduce(UInt64(0)) { $0 + $1.content.usedSectors / 8 }
        let usedFiles = UInt64(inodes.count)
        return FileSystemStatistics(
            blockSize: 4096, fragmentSize: 4096, blocks: blockCount,
            blocksFree: blockCount - min(blockCount, usedBlocks),
            blocksAvailable: blockCount - min(blockCount, usedBlocks), files: fileCount,
            filesFree: fileCount - min(fileCount, usedFiles), filesAvailable: fileCount - min(fileCount, usedFiles))
    }
}
