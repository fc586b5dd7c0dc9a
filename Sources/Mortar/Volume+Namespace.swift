import MortarCore
import Synchronization

extension Volume {
    /// Attributes of what `path` names, following a final symbolic link (`stat`).
    public func attributes(_ path: String) async throws -> FileAttributes {
        try await resolve(path, followLast: true, context: context())
    }

    /// Attributes of `path` itself, not following a final symbolic link (`lstat`).
    public func linkAttributes(_ path: String) async throws -> FileAttributes {
        try await resolve(path, followLast: false, context: context())
    }

    /// Checks that `path` exists and the caller may access it as `mask` says (`access`).
    public func checkAccess(_ path: String, _ mask: AccessMask) async throws {
        let context = try context()
        let attributes = try await resolve(path, context: context)
        try await stack.checkAccess(mask, to: attributes.id, context: context)
    }

    @discardableResult
    public func makeDirectory(_ path: String, permissions: UInt32 = 0o755) async throws -> FileAttributes {
        let context = try context()
        let (parent, name) = try await resolveParent(path, context: context)
        return try await stack.makeDirectory(
            name, in: parent, id: .random(), permissions: permissions, context: context)
    }

    /// Creates `path` and any missing parents; an existing directory is fine (`mkdir -p`).
    public func makeDirectories(_ path: String, permissions: UInt32 = 0o755) async throws {
        var prefix = ""
        for component in Self.components(absolute(path)) {
            prefix += "/" + component
            do {
                try await makeDirectory(prefix, permissions: permissions)
            } catch let error as FileSystemError where error.code == .exists {
                guard try await attributes(prefix).type == .directory else {
                    throw FileSystemError(.notDirectory, "'\(prefix)' exists and is not a directory")
                }
            }
        }
    }

    public func removeDirectory(_ path: String) async throws {
        let context = try context()
        let (parent, name) = try await resolveParent(path, context: context)
        defer { forgetDirectoryEntries() }
        try await Self.namingMissing(path) { try await stack.removeDirectory(name, in: parent, context: context) }
    }

    public func unlink(_ path: String) async throws {
        let context = try context()
        let (parent, name) = try await resolveParent(path, context: context)
        try await Self.namingMissing(path) { try await stack.unlink(name, in: parent, context: context) }
    }

    public func rename(_ source: String, to target: String, flags: RenameFlags = []) async throws {
        let context = try context()
        let (sourceParent, sourceName) = try await resolveParent(source, context: context)
        let (targetParent, targetName) = try await resolveParent(target, context: context)
        defer { forgetDirectoryEntries() }  // a directory renamed here must not be walked by its old path
        let missing = flags.contains(.exchange) ? "'\(source)' or '\(target)'" : "'\(source)'"
        do {
            try await stack.rename(sourceName, in: sourceParent, to: targetName, in: targetParent, flags: flags,
                                   context: context)
        } catch let error as FileSystemError where error.code == .notFound {
            throw FileSystemError.notFound("\(missing) does not exist")
        }
    }

    /// Runs an operation on a name in a resolved parent; its ENOENT names the caller's path, not the parent's
    /// FileID the layers know it by.
    static func namingMissing<T>(_ path: String, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as FileSystemError where error.code == .notFound {
            throw FileSystemError.notFound("'\(path)' does not exist")
        }
    }

    /// Makes `newPath` another name for the file at `existing` (`link`).
    @discardableResult
    public func link(_ existing: String, as newPath: String) async throws -> FileAttributes {
        let context = try context()
        let file = try await resolve(existing, followLast: false, context: context)
        let (parent, name) = try await resolveParent(newPath, context: context)
        return try await stack.link(file.id, as: name, in: parent, context: context)
    }

    @discardableResult
    public func makeSymbolicLink(_ path: String, target: String) async throws -> FileAttributes {
        let context = try context()
        guard !target.isEmpty, !target.utf8.contains(0) else {
            throw FileSystemError.invalidArgument("symbolic link target is empty or contains NUL")
        }
        let (parent, name) = try await resolveParent(path, context: context)
        return try await stack.makeSymbolicLink(name, in: parent, id: .random(), target: target, context: context)
    }

    public func readSymbolicLink(_ path: String) async throws -> String {
        let context = try context()
        let link = try await resolve(path, followLast: false, context: context)
        guard link.type == .symbolicLink else {
            throw FileSystemError.invalidArgument("'\(path)' is not a symbolic link")
        }
        return try await stack.readSymbolicLink(link.id, context: context)
    }

    /// Creates a FIFO, socket, empty regular file or device node (`mknod`). `device` is the device number
    /// (`makedev`) of a character or block device, which only root may make (EPERM otherwise); a device node on a
    /// volume can be stat'ed, renamed and linked, but not opened through the library (ENXIO).
    @discardableResult
    public func makeNode(_ path: String, type: FileType, permissions: UInt32, device: UInt64 = 0) async throws
        -> FileAttributes
    {
        let context = try context()
        let (parent, name) = try await resolveParent(path, context: context)
        return try await stack.makeNode(
            name, in: parent, id: .random(), type: type, permissions: permissions, device: device, context: context)
    }

    /// Changes attributes of what `path` names (chmod, chown, truncate, utimens in one call).
    @discardableResult
    public func setAttributes(_ path: String, _ changes: AttributeChanges, followLast: Bool = true) async throws
        -> FileAttributes
    {
        let context = try context()
        let file = try await resolve(path, followLast: followLast, context: context)
        // Remembered walks skipped the brick's search-permission check: a directory's new mode or owner must count.
        if file.type == .directory { forgetDirectoryEntries() }
        return try await stack.setAttributes(changes, of: file.id, context: context)
    }

    public func truncate(_ path: String, to size: UInt64) async throws {
        try await setAttributes(path, AttributeChanges(size: size))
    }

    public func fileSystemStatistics(_ path: String = "/") async throws -> FileSystemStatistics {
        let context = try context()
        _ = try await resolve(path, context: context)
        return try await stack.fileSystemStatistics(context: context)
    }

    /// Changes the directory relative paths start from (`glfs_chdir`).
    public func changeDirectory(_ path: String) async throws {
        let attributes = try await self.attributes(path)
        guard attributes.type == .directory else { throw FileSystemError(.notDirectory, "'\(path)' is not a directory") }
        let normalized = try normalize(absolute(path))
        state.withLock { $0.workingDirectory = normalized }
    }

    public var workingDirectory: String { state.withLock { $0.workingDirectory } }

    private func normalize(_ path: String) throws -> String {
        var parts: [String] = []
        for component in Self.components(path) {
            if component == ".." {
                if parts.popLast() == nil { try climbAboveRoot() }
            } else {
                parts.append(component)
            }
        }
        return "/" + parts.joined(separator: "/")
    }
}
