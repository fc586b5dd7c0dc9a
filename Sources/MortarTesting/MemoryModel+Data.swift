import MortarCore

extension MemoryModel {
    /// `open(2)` with O_CREAT: creates the file, or opens the existing one unless `.exclusive` is given.
    mutating func create(
        _ name: String, in parent: FileID, id: FileID, permissions: UInt32, flags: OpenFlags,
        context: OperationContext
    ) throws -> CreatedFile {
        try EntryName.validate(name)
        if let existing = try directory(parent).entries[name] {
            guard !flags.contains(.exclusive) else {
                throw FileSystemError(.exists, "'\(name)' already exists in directory \(parent)")
            }
            if try inode(existing).type == .directory {
                throw FileSystemError(.isDirectory, "'\(name)' in \(parent) is a directory")
            }
            let file = try open(existing, flags: flags)
            return CreatedFile(file: file, attributes: try attributes(existing))
        }
        try requireUnused(id)
        insert(makeInode(id: id, type: .regular, permissions: permissions, context: context), as: name, in: parent)
        let file = try open(id, flags: flags.subtracting(.truncate))
        return CreatedFile(file: file, attributes: try attributes(id))
    }

    mutating func open(_ id: FileID, flags: OpenFlags) throws -> OpenFile {
        let inode = try inode(id)
        switch inode.type {
        case .directory where flags.contains(.write):
            throw FileSystemError(.isDirectory, "cannot open directory \(id) for writing")
        case .symbolicLink:
            throw FileSystemError(.symbolicLinkLoop, "FileID \(id) is a symbolic link; resolve it before opening")
        default:
            break
        }
        guard handles.count < Limits.openFilesPerConnectionMax else {
            throw FileSystemError(.tooManyOpenFiles, "too many open files (\(handles.count))")
        }
        if flags.contains(.truncate), flags.contains(.write), inode.type == .regular, inode.content.size > 0 {
            inodes[id]?.content.resize(to: 0)
            touch(id)
        }
        let number = nextHandle
        nextHandle += 1
        handles[number] = OpenHandle(id: id, flags: flags)
        inodes[id]?.openCount += 1
        return OpenFile(id: id, handle: number)
    }

    mutating func release(_ file: OpenFile) throws {
        let handle = try handle(file)
        handles[file.handle] = nil
        guard var inode = inodes[handle.id] else { return }
        inode.openCount -= 1
        inodes[handle.id] = inode.openCount == 0 && inode.attributes.linkCount == 0 ? nil : inode
    }

    /// The regular file behind an open handle with `required` access.
    func openRegularFile(_ file: OpenFile, requiring required: OpenFlags) throws -> Inode {
        let handle = try handle(file, requiring: required)
        let inode = try inode(handle.id)
        guard inode.type == .regular else {
            let code: FileSystemError.Code = inode.type == .directory ? .isDirectory : .invalidArgument
            throw FileSystemError(code, "FileID \(file.id) is a \(inode.type), not a regular file")
        }
        return inode
    }

    func read(from file: OpenFile, at offset: UInt64, count: Int) throws -> [UInt8] {
        guard count >= 0 else { throw FileSystemError.invalidArgument("negative read count \(count)") }
        let inode = try openRegularFile(file, requiring: .read)
        return inode.content.read(at: offset, count: min(count, Limits.ioByteCountMax))
    }

    mutating func write(_ data: [UInt8], to file: OpenFile, at offset: UInt64) throws -> Int {
        let handle = try handle(file, requiring: .write)
        let inode = try openRegularFile(file, requiring: .write)
        let start = handle.flags.contains(.append) ? inode.content.size : offset
        try requireSize(start, plus: UInt64(data.count))
        inodes[file.id]?.content.write(data, at: start)
        if !data.isEmpty { touch(file.id) }
        return data.count
    }

    mutating func truncate(_ file: OpenFile, to size: UInt64) throws {
        // Not writable: the line below throws EBADF for an unknown handle, else EINVAL follows.
        guard (try? handle(file, requiring: .write)) != nil else {
            _ = try handle(file)
            throw FileSystemError.invalidArgument("handle \(file.handle) of \(file.id) is not open for writing")
        }
        _ = try openRegularFile(file, requiring: .write)
        try requireSize(size, plus: 0)
        inodes[file.id]?.content.resize(to: size)
        touch(file.id)
    }

    /// `fallocate(2)` mode 0 or KEEP_SIZE: reserves space; no data blocks appear (see ``FileContent``).
    mutating func allocate(_ file: OpenFile, at offset: UInt64, length: UInt64, keepSize: Bool) throws {
        let inode = try openRegularFile(file, requiring: .write)
        try requireRange(offset, length)
        try requireSize(offset, plus: length)
        if !keepSize, offset + length > inode.content.size {
            inodes[file.id]?.content.resize(to: offset + length)
            touch(file.id)
        }
    }

    /// `fallocate(2)` PUNCH_HOLE | KEEP_SIZE.
    mutating func discard(_ file: OpenFile, at offset: UInt64, length: UInt64) throws {
        _ = try openRegularFile(file, requiring: .write)
        try requireRange(offset, length)
        inodes[file.id]?.content.punchHole(at: offset, length: length)
        touch(file.id)
    }

    /// `fallocate(2)` ZERO_RANGE: like ``discard(_:at:length:)``, and extends the file past its end.
    mutating func zeroFill(_ file: OpenFile, at offset: UInt64, length: UInt64) throws {
        let inode = try openRegularFile(file, requiring: .write)
        try requireRange(offset, length)
        try requireSize(offset, plus: length)
        if offset + length > inode.content.size { inodes[file.id]?.content.resize(to: offset + length) }
        inodes[file.id]?.content.punchHole(at: offset, length: length)
        touch(file.id)
    }

    func seek(_ file: OpenFile, from offset: UInt64, to target: SeekTarget) throws -> UInt64 {
        let inode = try openRegularFile(file, requiring: [])
        let found = target == .data ? inode.content.nextData(from: offset) : inode.content.nextHole(from: offset)
        guard let found else {
            throw FileSystemError(.noSuchDeviceOrAddress, "no \(target) at or after offset \(offset) in \(file.id)")
        }
        return found
    }

    private func requireRange(_ offset: UInt64, _ length: UInt64) throws {
        guard length > 0 else { throw FileSystemError.invalidArgument("range length must be positive") }
        guard offset.addingReportingOverflow(length).overflow == false else {
            throw FileSystemError(.fileTooLarge, "range \(offset)+\(length) overflows")
        }
    }

    private func requireSize(_ offset: UInt64, plus length: UInt64) throws {
        let (end, overflow) = offset.addingReportingOverflow(length)
        guard !overflow, end <= fileByteCountMax else {
            throw FileSystemError(
                .fileTooLarge, "file would reach \(offset)+\(length) bytes, past the model's \(fileByteCountMax)")
        }
    }
}
