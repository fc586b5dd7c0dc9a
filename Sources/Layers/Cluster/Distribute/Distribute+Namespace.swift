import Logging
import MortarCore
import MortarVolumeSpec
import Synchronization

/// Operations that add or remove names.
extension Distribute {
    /// What `name` in `parent` is, or `nil` when it does not exist (any other error is thrown).
    func resolveIfPresent(_ name: String, in parent: FileID, context: OperationContext) async throws -> Resolution? {
        do {
            return try await resolve(name, in: parent, context: context)
        } catch where isNotFound(error) {
            return nil
        }
    }

    /// EEXIST when `name` already exists in `parent`; EINVAL for a name reserved for rebalancing.
    func requireAbsent(_ name: String, in parent: FileID, context: OperationContext) async throws {
        try Self.refuseReserved(name)
        if try await resolveIfPresent(name, in: parent, context: context) != nil {
            throw FileSystemError(.exists, "'\(name)' already exists in directory \(parent)")
        }
    }

    public func create(
        _ name: String, in parent: FileID, id: FileID, permissions: UInt32, flags: OpenFlags,
        context: OperationContext
    ) async throws -> CreatedFile {
        // Opening an existing file a rebalance fences waits for the move, then starts again where it lives.
        try await waitingForMoves {
            try await createOnce(name, in: parent, id: id, permissions: permissions, flags: flags, context: context)
        }
    }

    private func createOnce(
        _ name: String, in parent: FileID, id: FileID, permissions: UInt32, flags: OpenFlags,
        context: OperationContext
    ) async throws -> CreatedFile {
        try Self.refuseReserved(name)
        await catchUp()  // a new name goes by the newest layout this client can know
        var child = hashedChild(name, in: parent)
        var isNew = false
        // With one child there is nowhere else the name could be (no link files, no directory copies elsewhere):
        // that child's create settles existence itself, and a small-file create saves a round trip. (Directory
        // times need no touch either: child 0 is the only copy.)
        if children.count > 1 {
            switch try await resolveIfPresent(name, in: parent, context: context) {
            case .directory where flags.contains(.exclusive), .object where flags.contains(.exclusive):
                throw FileSystemError(.exists, "'\(name)' already exists in directory \(parent)")
            case .directory:
                throw FileSystemError(.isDirectory, "'\(name)' in \(parent) is a directory")
            case .object(let holder, _, _):
                child = holder  // the holder's create opens the existing file
            case nil:
                isNew = true
            }
        }
        let (placed, created) = try await placeNew(name, in: parent, on: child, isNew: isNew) { target in
            try await target.create(name, in: parent, id: id, permissions: permissions, flags: flags, context: context)
        }
        child = placed
        state.withLock { $0.learn(created.file.id, .child(child)) }
        if isNew { await touchDirectory(parent, changedOn: child, context: context) }
        let file = try await register(child: child, file: created.file, context: context)
        return CreatedFile(file: file, attributes: created.attributes)
    }

    public func makeSymbolicLink(
        _ name: String, in parent: FileID, id: FileID, target: String, context: OperationContext
    ) async throws -> FileAttributes {
        await catchUp()
        try await requireAbsent(name, in: parent, context: context)
        let (child, made) = try await placeNew(name, in: parent, on: hashedChild(name, in: parent)) {
            try await $0.makeSymbolicLink(name, in: parent, id: id, target: target, context: context)
        }
        state.withLock { $0.learn(id, .child(child)) }
        await touchDirectory(parent, changedOn: child, context: context)
        return made
    }

    public func makeNode(
        _ name: String, in parent: FileID, id: FileID, type: FileType, permissions: UInt32, device: UInt64,
        context: OperationContext
    ) async throws -> FileAttributes {
        guard type != .directory, type != .symbolicLink else {
            throw FileSystemError.invalidArgument("makeNode cannot make a \(type); use makeDirectory or makeSymbolicLink")
        }
        await catchUp()
        try await requireAbsent(name, in: parent, context: context)
        let (child, made) = try await placeNew(name, in: parent, on: hashedChild(name, in: parent)) {
            try await $0.makeNode(
                name, in: parent, id: id, type: type, permissions: permissions, device: device, context: context)
        }
        state.withLock { $0.learn(id, .child(child)) }
        await touchDirectory(parent, changedOn: child, context: context)
        return made
    }

    /// Makes a new name on `child`; when that child lacks the directory (it joined the volume after the directory
    /// was made, and no lookup has repaired it there yet) the name goes where earlier generations of the layout
    /// place it, newest first: lookups look there too, and a rebalance moves it later. Returns where it went.
    func placeNew<Result: Sendable>(
        _ name: String, in parent: FileID, on child: Int, isNew: Bool = true,
        _ body: (any FileOperations) async throws -> Result
    ) async throws -> (child: Int, result: Result) {
        do {
            return (child, try await body(children[child]))
        } catch where isNew && isNotFound(error) {
            for earlier in earlierChildren(name, in: parent) where earlier != child {
                do {
                    return (earlier, try await body(children[earlier]))
                } catch where isNotFound(error) {
                    continue
                }
            }
            throw error
        }
    }

    public func unlink(_ name: String, in parent: FileID, context: OperationContext) async throws {
        try await waitingForMoves { try await unlinkOnce(name, in: parent, context: context) }
    }

    private func unlinkOnce(_ name: String, in parent: FileID, context: OperationContext) async throws {
        switch try await resolve(name, in: parent, context: context) {
        case .directory:
            throw FileSystemError(.isDirectory, "'\(name)' in \(parent) is a directory; use removeDirectory")
        case .object(let holder, _, let linkFileChild):
            try await children[holder].unlink(name, in: parent, context: context)
            if let linkFileChild {
                do {
                    try await children[linkFileChild].unlink(name, in: parent, context: context)
                } catch where isNotFound(error) {
                    // Already gone (a concurrent unlink): the name is removed either way.
                }
            }
            await touchDirectory(parent, changedOn: holder, context: context)
        }
    }

    public func link(_ file: FileID, as name: String, in parent: FileID, context: OperationContext) async throws
        -> FileAttributes
    {
        try await waitingForMoves(of: file) { try await linkOnce(file, as: name, in: parent, context: context) }
    }

    private func linkOnce(_ file: FileID, as name: String, in parent: FileID, context: OperationContext) async throws
        -> FileAttributes
    {
        guard case .child(let holder) = try await placement(of: file, context: context) else {
            throw FileSystemError(.operationNotPermitted, "cannot hard-link directory \(file)")
        }
        // The placement may be cached from before the file was removed: make sure it still exists.
        _ = try await children[holder].attributes(of: file, context: context)
        try await requireAbsent(name, in: parent, context: context)
        let linked = try await children[holder].link(file, as: name, in: parent, context: context)
        try await placeLinkFile(name, in: parent, id: file, holder: holder, context: context)
        await touchDirectory(parent, changedOn: holder, context: context)
        return linked
    }

    public func makeDirectory(
        _ name: String, in parent: FileID, id: FileID, permissions: UInt32, context: OperationContext
    ) async throws -> FileAttributes {
        await catchUp()  // a directory goes on every child, new ones included
        try await requireAbsent(name, in: parent, context: context)
        let made = try await everyChild("makeDirectory") {
            try await $0.makeDirectory(name, in: parent, id: id, permissions: permissions, context: context)
        }
        state.withLock { $0.learn(id, .everyChild) }
        guard let first = made.first else { throw FileSystemError.inputOutput("distribute has no children") }
        return first
    }

    /// Removes the directory from every child, child 0 last (listings take directories from child 0).
    public func removeDirectory(_ name: String, in parent: FileID, context: OperationContext) async throws {
        let resolution = try await resolve(name, in: parent, context: context)
        guard case .directory(let attributes) = resolution else {
            throw FileSystemError(.notDirectory, "'\(name)' in \(parent) is not a directory")
        }
        if let child = try await childWithEntries(attributes.id, context: context) {
            // Let the child that sees an entry refuse, so the error is the one POSIX gives.
            try await children[child].removeDirectory(name, in: parent, context: context)
            throw FileSystemError(.notEmpty, "directory '\(name)' in \(parent) is not empty on child \(child)")
        }
        _ = try await everyChild("removeDirectory", order: children.indices.reversed()) { child in
            do {
                try await child.removeDirectory(name, in: parent, context: context)
            } catch where isNotFound(error) {
                return  // never made there; nothing to remove
            }
        }
        state.withLock { $0.forget(attributes.id) }
    }

    /// The first child on which directory `id` has an entry, or `nil` when it is empty everywhere.
    func childWithEntries(_ id: FileID, context: OperationContext) async throws -> Int? {
        for index in children.indices {
            let page: DirectoryPage
            do {
                page = try await children[index].readDirectory(id, after: 0, countMax: 3, context: context)
            } catch where isNotFound(error) {
                continue
            }
            if page.entries.contains(where: { $0.name != "." && $0.name != ".." }) { return index }
        }
        return nil
    }
}
