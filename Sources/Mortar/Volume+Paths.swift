import MortarCore
import NIOCore
import Synchronization

/// Path resolution on the client: a path is walked one lookup per component from the root or the working
/// directory, following symbolic links (absolute link targets resolve inside the volume) up to
/// `Limits.symbolicLinkFollowsMax` times. `..` never climbs above the volume root: a path that tries is refused, or
/// stays at the root (``setParentOfRootIsRoot(_:)``).
extension Volume {
    struct Step {
        var id: FileID
        var type: FileType
    }

    static func validate(_ path: String) throws {
        guard !path.utf8.contains(0) else { throw FileSystemError.invalidArgument("NUL byte in path") }
        guard path.utf8.count <= Limits.pathByteCountMax else {
            throw FileSystemError(.nameTooLong, "path of \(path.utf8.count) bytes exceeds \(Limits.pathByteCountMax)")
        }
        guard !path.isEmpty else { throw FileSystemError.notFound("empty path") }
    }

    /// `..` at the root: stays there when the root is its own parent, else refused.
    func climbAboveRoot() throws {
        guard state.withLock({ $0.parentOfRootIsRoot }) else {
            throw FileSystemError(.permissionDenied, "path climbs above the volume root with '..'")
        }
    }

    static func components(_ path: String) -> [String] {
        path.split(separator: "/", omittingEmptySubsequences: true).map(String.init).filter { $0 != "." }
    }

    /// The absolute form of `path` (with the working directory in front of a relative one).
    func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        let workingDirectory = state.withLock { $0.workingDirectory }
        return workingDirectory == "/" ? "/" + path : workingDirectory + "/" + path
    }

    /// Resolves a path to the attributes of what it names. The last component is always looked up afresh.
    func resolve(_ path: String, followLast: Bool = true, context: OperationContext) async throws -> FileAttributes {
        try Self.validate(path)
        let components = Self.components(absolute(path))
        let walked = try await walkRetryingStale(components, path: path, followLast: followLast, context: context)
        if let last = walked.last { return last }
        return try await self.stack.attributes(of: walked.directories.last?.id ?? .root, context: context)
    }

    /// Resolves all but the last component: the parent directory and the name to create, remove or rename.
    func resolveParent(_ path: String, context: OperationContext) async throws -> (parent: FileID, name: String) {
        try Self.validate(path)
        var components = Self.components(absolute(path))
        guard let name = components.popLast() else {
            throw FileSystemError(.busy, "the volume root cannot be created, removed or renamed")
        }
        guard name != ".." else { throw FileSystemError.invalidArgument("path '\(path)' ends in '..'") }
        try EntryName.validate(name)
        let walked = try await walkRetryingStale(
            components, path: path, followLast: true, parentOnly: true, context: context)
        if let last = walked.last, last.type != .directory {
            throw FileSystemError(.notDirectory, "parent of '\(path)' is not a directory")
        }
        return (walked.last?.id ?? walked.directories.last?.id ?? .root, name)
    }

    /// Forgets every directory remembered from earlier walks: after this client renamed or removed a directory
    /// or changed a directory's permissions, and when a remembered directory turned out to be gone.
    func forgetDirectoryEntries() {
        state.withLock { $0.directoryEntries.removeAll() }
    }

    private struct Walk {
        /// The directories passed through, root first (for `..`).
        var directories: [Step]
        /// Their names, the root's left out (`names[i]` is `directories[i + 1]`'s): the path reached so far, for
        /// errors — layers name a directory by FileID, the caller knows it by path.
        var names: [String] = []
        /// The name of ``last``.
        var lastName = ""
        /// Whether the walk left the path as written (a symbolic link or `..`), so the names differ from it.
        var detoured = false
        /// What the final component named, when it was looked up (`nil` for an empty path or `..` at the end).
        var last: FileAttributes?
        /// Whether a remembered directory stood in for a lookup.
        var usedRemembered = false
    }

    /// A lookup failed under a path that a remembered directory stood in for: the walk is repeated.
    private struct RememberedDirectoryGone: Error {
        var underlying: FileSystemError
    }

    /// Walks with remembered directories; if a directory on the way is then missing, a remembered directory may be
    /// stale (removed or renamed by another client), so the walk is repeated once with fresh lookups only.
    private func walkRetryingStale(
        _ components: [String], path: String, followLast: Bool, parentOnly: Bool = false, context: OperationContext
    ) async throws -> Walk {
        do {
            return try await walk(components, path: path, followLast: followLast, parentOnly: parentOnly,
                                  remembered: true, context: context)
        } catch is RememberedDirectoryGone {
            forgetDirectoryEntries()
            return try await walk(components, path: path, followLast: followLast, parentOnly: parentOnly,
                                  remembered: false, context: context)
        }
    }

    /// ENOENT for `name` missing in the directory reached by `names`, worded with the caller's `path`: layers
    /// can only say "no entry 'b' in <FileID>", which means nothing to whoever typed the path.
    static func missing(_ name: String, under names: [String], path: String, isFinal: Bool) -> FileSystemError {
        guard !isFinal else { return FileSystemError.notFound("'\(path)' does not exist") }
        return FileSystemError.notFound("'\(path)': '/\((names + [name]).joined(separator: "/"))' does not exist")
    }

    /// Walks components from the root. With `parentOnly`, the components name a directory to work in, so a
    /// remembered directory may stand in for the final one too; otherwise the final component is looked up.
    private func walk(
        _ initial: [String], path: String, followLast: Bool, parentOnly: Bool, remembered: Bool,
        context: OperationContext
    ) async throws -> Walk {
        var pending = ArraySlice(initial)
        var walk = Walk(directories: [Step(id: .root, type: .directory)])
        var follows = 0
        let identity = Credentials(
            userID: context.userID, groupID: context.groupID, supplementaryGroupIDs: context.supplementaryGroupIDs)
        while let name = pending.popFirst() {
            if let directory = walk.last {
                guard directory.type == .directory else {
                    throw FileSystemError(.notDirectory, "'\(name)' is looked up inside something that is not a directory")
                }
                walk.directories.append(Step(id: directory.id, type: directory.type))
                walk.names.append(walk.lastName)
                walk.last = nil
            }
            if name == ".." {
                walk.detoured = true
                if walk.directories.count > 1 {
                    walk.directories.removeLast()
                    walk.names.removeLast()
                } else {
                    try climbAboveRoot()
                }
                continue
            }
            try EntryName.validate(name)
            let parent = walk.directories[walk.directories.count - 1].id
            let key = DirectoryEntryCache.Key(parent: parent, name: name, credentials: identity)
            if remembered, parentOnly || !pending.isEmpty,
                let id = state.withLock({ $0.directoryEntries.directory(key, now: .now()) })
            {
                walk.directories.append(Step(id: id, type: .directory))
                walk.names.append(name)
                walk.usedRemembered = true
                continue
            }
            let found: FileAttributes
            do {
                found = try await self.stack.lookup(name, in: parent, context: context)
            } catch let error as FileSystemError
                where walk.usedRemembered && !pending.isEmpty && (error.code == .notFound || error.code == .staleHandle)
            {
                // A directory on the way is missing under a remembered one: that one may be stale. (A missing
                // *final* name is the common answer of a create's check and does not empty the cache.)
                throw RememberedDirectoryGone(underlying: error)
            } catch let error as FileSystemError where error.code == .notFound {
                throw Self.missing(
                    name, under: walk.names, path: path, isFinal: !parentOnly && pending.isEmpty && !walk.detoured)
            }
            if found.type == .directory {
                state.withLock { $0.directoryEntries.remember(key, directory: found.id, now: .now()) }
            }
            if found.type == .symbolicLink, followLast || !pending.isEmpty {
                follows += 1
                guard follows <= Limits.symbolicLinkFollowsMax else {
                    throw FileSystemError(.symbolicLinkLoop, "too many symbolic links while resolving '\(name)'")
                }
                let target = try await self.stack.readSymbolicLink(found.id, context: context)
                if target.hasPrefix("/") {
                    walk.directories = [Step(id: .root, type: .directory)]
                    walk.names = []
                }
                walk.detoured = true
                pending = ArraySlice(Self.components(target)) + pending
                continue
            }
            walk.last = found
            walk.lastName = name
        }
        return walk
    }

    /// The path of what `path` names with every symbolic link, `.` and `..` resolved (`realpath`). What it names
    /// must exist.
    public func canonicalPath(_ path: String) async throws -> String {
        let context = try context()
        try Self.validate(path)
        var pending = ArraySlice(Self.components(absolute(path)))
        var names: [String] = []
        var parents: [FileID] = [.root]
        var follows = 0
        var detoured = false
        while let name = pending.popFirst() {
            if name == ".." {
                detoured = true
                if names.isEmpty {
                    try climbAboveRoot()
                } else {
                    names.removeLast()
                    parents.removeLast()
                }
                continue
            }
            try EntryName.validate(name)
            let found: FileAttributes
            do {
                found = try await stack.lookup(name, in: parents[parents.count - 1], context: context)
            } catch let error as FileSystemError where error.code == .notFound {
                throw Self.missing(name, under: names, path: path, isFinal: pending.isEmpty && !detoured)
            }
            if found.type == .symbolicLink {
                detoured = true
                follows += 1
                guard follows <= Limits.symbolicLinkFollowsMax else {
                    throw FileSystemError(.symbolicLinkLoop, "too many symbolic links while resolving '\(name)'")
                }
                let target = try await stack.readSymbolicLink(found.id, context: context)
                if target.hasPrefix("/") {
                    names = []
                    parents = [.root]
                }
                pending = ArraySlice(Self.components(target)) + pending
                continue
            }
            if !pending.isEmpty, found.type != .directory {
                throw FileSystemError(.notDirectory, "'\(name)' in '\(path)' is not a directory")
            }
            names.append(name)
            parents.append(found.id)
        }
        return "/" + names.joined(separator: "/")
    }
}
