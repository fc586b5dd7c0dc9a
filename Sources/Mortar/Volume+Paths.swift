import MortarCore
import Synchronization

/// Path resolution on the client: a path is walked one lookup per component from the root or the working
/// directory, following symbolic links (absolute link targets resolve inside the volume) up to
/// `Limits.symbolicLinkFollowsMax` times. `..` never climbs above the volume root: a path that tries is refused.
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

    static func components(_ path: String) -> [String] {
        path.split(separator: "/", omittingEmptySubsequences: true).map(String.init).filter { $0 != "." }
    }

    /// The absolute form of `path` (with the working directory in front of a relative one).
    func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        let workingDirectory = state.withLock { $0.workingDirectory }
        return workingDirectory == "/" ? "/" + path : workingDirectory + "/" + path
    }

    /// Resolves a path to the attributes of what it names.
    func resolve(_ path: String, followLast: Bool = true, context: OperationContext) async throws -> FileAttributes {
        try Self.validate(path)
        let (stack, last) = try await walk(Self.components(absolute(path)), followLast: followLast, context: context)
        if let last { return last }
        return try await self.stack.attributes(of: stack.last?.id ?? .root, context: context)
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
        let (stack, last) = try await walk(components, followLast: true, context: context)
        let parentType = last?.type ?? stack.last?.type ?? .directory
        guard parentType == .directory else {
            throw FileSystemError(.notDirectory, "parent of '\(path)' is not a directory")
        }
        return (last?.id ?? stack.last?.id ?? .root, name)
    }

    /// Walks components from the root. Returns the directories passed through (for `..`) and the attributes of the
    /// final component when there was one that was looked up.
    private func walk(_ initial: [String], followLast: Bool, context: OperationContext) async throws
        -> ([Step], FileAttributes?)
    {
        var pending = ArraySlice(initial)
        var stack = [Step(id: .root, type: .directory)]
        var last: FileAttributes?
        var follows = 0
        while let name = pending.popFirst() {
            if let directory = last {
                guard directory.type == .directory else {
                    throw FileSystemError(.notDirectory, "'\(name)' is looked up inside something that is not a directory")
                }
                stack.append(Step(id: directory.id, type: directory.type))
                last = nil
            }
            if name == ".." {
                guard stack.count > 1 else {
                    throw FileSystemError(.permissionDenied, "path climbs above the volume root with '..'")
                }
                stack.removeLast()
                continue
            }
            try EntryName.validate(name)
            let found = try await self.stack.lookup(name, in: stack[stack.count - 1].id, context: context)
            if found.type == .symbolicLink, followLast || !pending.isEmpty {
                follows += 1
                guard follows <= Limits.symbolicLinkFollowsMax else {
                    throw FileSystemError(.symbolicLinkLoop, "too many symbolic links while resolving '\(name)'")
                }
                let target = try await self.stack.readSymbolicLink(found.id, context: context)
                if target.hasPrefix("/") { stack = [Step(id: .root, type: .directory)] }
                pending = ArraySlice(Self.components(target)) + pending
                continue
            }
            last = found
        }
        return (stack, last)
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
        while let name = pending.popFirst() {
            if name == ".." {
                guard !names.isEmpty else {
                    throw FileSystemError(.permissionDenied, "path climbs above the volume root with '..'")
                }
                names.removeLast()
                parents.removeLast()
                continue
            }
            try EntryName.validate(name)
            let found = try await stack.lookup(name, in: parents[parents.count - 1], context: context)
            if found.type == .symbolicLink {
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
