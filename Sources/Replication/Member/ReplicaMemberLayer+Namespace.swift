import MortarCore

/// Namespace changes: one namespace primary per set orders them all, names as sequence keys. A member that
/// already holds an object of the same FileID under the name (a client's retry after a failover) counts as having
/// applied the change.
extension ReplicaMemberLayer {
    public func create(
        _ name: String, in parent: FileID, id: FileID, permissions: UInt32, flags: OpenFlags,
        context: OperationContext
    ) async throws -> CreatedFile {
        let isClient = context.replication.role == .client
        let localFlags = isClient ? flags.subtracting(.append) : flags
        let created = try await change(
            context, orderedBy: .namespace, keys: [.name(parent, name)],
            records: [.directory(parent), .wholeFile(id)],
            local: {
                do {
                    return try await next.create(
                        name, in: parent, id: id, permissions: permissions, flags: localFlags, context: context)
                } catch let error as FileSystemError where error.code == .exists && isClient {
                    // A client's retry: made here by its first try, which never reached the others.
                    let existing = try await self.appliedAlready(name, in: parent, id: id, context: context, error)
                    let opened = try await next.open(
                        id, flags: localFlags.subtracting(OpenFlags.creationOnly), context: context)
                    return CreatedFile(file: opened, attributes: existing)
                }
            },
            forward: { target, forwarded in
                let peer = try self.agent.peer(target)
                do {
                    let backup = try await peer.create(
                        name, in: parent, id: id, permissions: permissions, flags: flags.subtracting(.append),
                        context: forwarded)
                    if !self.backups.adopt(backup.file, of: id, on: target) {
                        // A handle of the file is kept already; this extra one is only tidied up.
                        try? await peer.release(backup.file, context: forwarded)
                    }
                } catch let error as FileSystemError where error.code == .exists {
                    try await Self.requireSameObject(name, in: parent, id: id, on: peer, context: forwarded, error)
                }
            })
        if isClient { noteClientOpen(created.file, flags: flags) }
        return created
    }

    public func makeDirectory(
        _ name: String, in parent: FileID, id: FileID, permissions: UInt32, context: OperationContext
    ) async throws -> FileAttributes {
        try await change(
            context, orderedBy: .namespace, keys: [.name(parent, name)], records: [.directory(parent), .directory(id)],
            local: {
                try await self.retrying(name, in: parent, id: id, context: context) {
                    try await next.makeDirectory(name, in: parent, id: id, permissions: permissions, context: context)
                }
            },
            forward: { target, forwarded in
                let peer = try self.agent.peer(target)
                do {
                    _ = try await peer.makeDirectory(name, in: parent, id: id, permissions: permissions, context: forwarded)
                } catch let error as FileSystemError where error.code == .exists {
                    try await Self.requireSameObject(name, in: parent, id: id, on: peer, context: forwarded, error)
                }
            })
    }

    public func makeSymbolicLink(
        _ name: String, in parent: FileID, id: FileID, target linkTarget: String, context: OperationContext
    ) async throws -> FileAttributes {
        try await change(
            context, orderedBy: .namespace, keys: [.name(parent, name)], records: [.directory(parent)],
            local: {
                try await self.retrying(name, in: parent, id: id, context: context) {
                    try await next.makeSymbolicLink(name, in: parent, id: id, target: linkTarget, context: context)
                }
            },
            forward: { target, forwarded in
                let peer = try self.agent.peer(target)
                do {
                    _ = try await peer.makeSymbolicLink(name, in: parent, id: id, target: linkTarget, context: forwarded)
                } catch let error as FileSystemError where error.code == .exists {
                    try await Self.requireSameObject(name, in: parent, id: id, on: peer, context: forwarded, error)
                }
            })
    }

    public func makeNode(
        _ name: String, in parent: FileID, id: FileID, type: FileType, permissions: UInt32, device: UInt64,
        context: OperationContext
    ) async throws -> FileAttributes {
        try await change(
            context, orderedBy: .namespace, keys: [.name(parent, name)], records: [.directory(parent)],
            local: {
                try await self.retrying(name, in: parent, id: id, context: context) {
                    try await next.makeNode(
                        name, in: parent, id: id, type: type, permissions: permissions, device: device, context: context)
                }
            },
            forward: { target, forwarded in
                let peer = try self.agent.peer(target)
                do {
                    _ = try await peer.makeNode(
                        name, in: parent, id: id, type: type, permissions: permissions, device: device, context: forwarded)
                } catch let error as FileSystemError where error.code == .exists {
                    try await Self.requireSameObject(name, in: parent, id: id, on: peer, context: forwarded, error)
                }
            })
    }

    public func link(_ file: FileID, as name: String, in parent: FileID, context: OperationContext) async throws
        -> FileAttributes
    {
        try await change(
            context, orderedBy: .namespace, keys: [.name(parent, name)], records: [.directory(parent), .metadata(file)],
            local: {
                try await self.retrying(name, in: parent, id: file, context: context) {
                    try await next.link(file, as: name, in: parent, context: context)
                }
            },
            forward: { target, forwarded in
                let peer = try self.agent.peer(target)
                do {
                    _ = try await peer.link(file, as: name, in: parent, context: forwarded)
                } catch let error as FileSystemError where error.code == .exists {
                    try await Self.requireSameObject(name, in: parent, id: file, on: peer, context: forwarded, error)
                }
            })
    }

    public func unlink(_ name: String, in parent: FileID, context: OperationContext) async throws {
        let absent = try await change(
            context, orderedBy: .namespace, keys: [.name(parent, name)], records: [.directory(parent)],
            local: { try await Self.absentHere { try await next.unlink(name, in: parent, context: context) } },
            forward: { target, forwarded in
                try await Self.ignoringAbsent { try await self.agent.peer(target).unlink(name, in: parent, context: forwarded) }
            })
        if let absent { throw absent }
    }

    public func removeDirectory(_ name: String, in parent: FileID, context: OperationContext) async throws {
        let absent = try await change(
            context, orderedBy: .namespace, keys: [.name(parent, name)], records: [.directory(parent)],
            local: { try await Self.absentHere { try await next.removeDirectory(name, in: parent, context: context) } },
            forward: { target, forwarded in
                try await Self.ignoringAbsent {
                    try await self.agent.peer(target).removeDirectory(name, in: parent, context: forwarded)
                }
            })
        if let absent { throw absent }
    }

    public func rename(
        _ name: String, in parent: FileID, to newName: String, in newParent: FileID, flags: RenameFlags,
        context: OperationContext
    ) async throws {
        // The moved objects are recorded too: a heal that finds one gone from its old directory on the healing
        // member makes it anew under the new name, and must then know to copy it whole.
        var records: [HealJournal.Change] = [.directory(parent), .directory(newParent)]
        // Only ENOENT may leave a name out (the rename then fails with it); any other error fails the rename, or
        // the moved object would not be recorded for the absent members.
        if let moved = try await FileSystemError.nilIfNotFound({ try await next.lookup(name, in: parent, context: context) }) {
            records.append(.metadata(moved.id))
        }
        if flags.contains(.exchange),
            let swapped = try await FileSystemError.nilIfNotFound({
                try await next.lookup(newName, in: newParent, context: context)
            })
        {
            records.append(.metadata(swapped.id))
        }
        try await change(
            context, orderedBy: .namespace, keys: [.name(parent, name), .name(newParent, newName)],
            records: records,
            local: { try await next.rename(name, in: parent, to: newName, in: newParent, flags: flags, context: context) },
            forward: { target, forwarded in
                try await self.agent.peer(target).rename(
                    name, in: parent, to: newName, in: newParent, flags: flags, context: forwarded)
            })
    }

    /// Runs a making change here; EEXIST for an object of the same FileID is a client's retry (its first try made
    /// it here and never reached the others), which goes on to the others.
    func retrying(
        _ name: String, in parent: FileID, id: FileID, context: OperationContext,
        _ make: () async throws -> FileAttributes
    ) async throws -> FileAttributes {
        do {
            return try await make()
        } catch let error as FileSystemError where error.code == .exists && context.replication.role == .client {
            return try await appliedAlready(name, in: parent, id: id, context: context, error)
        }
    }

    func appliedAlready(
        _ name: String, in parent: FileID, id: FileID, context: OperationContext, _ error: FileSystemError
    ) async throws -> FileAttributes {
        // A name gone again or holding another FileID is the EEXIST to report; a failure to look is reported as
        // itself (it says what went wrong here, where EEXIST would tell the client a false thing).
        guard
            let existing = try await FileSystemError.nilIfNotFound({
                try await next.lookup(name, in: parent, context: context)
            }),
            existing.id == id
        else { throw error }
        return existing
    }

    /// A removal of a name this member does not have still goes to the others (a client's retry whose first try
    /// removed it only here); the caller then answers ENOENT, which a retrying client takes as done.
    static func absentHere(_ remove: () async throws -> Void) async throws -> FileSystemError? {
        do {
            try await remove()
            return nil
        } catch let error as FileSystemError where error.code == .notFound {
            return error
        }
    }

    /// A member that answers EEXIST has applied the change already if the name holds the same FileID.
    static func requireSameObject(
        _ name: String, in parent: FileID, id: FileID, on peer: any FileOperations, context: OperationContext,
        _ error: FileSystemError
    ) async throws {
        // A name gone again or holding another FileID is a failed forward (EEXIST); a lookup that fails otherwise
        // fails the forward with its own error, so a member refusing it as stale ends the change as stale rather
        // than being taken out of the set for an EEXIST it never had.
        guard
            let existing = try await FileSystemError.nilIfNotFound({
                try await peer.lookup(name, in: parent, context: context)
            }),
            existing.id == id
        else { throw error }
    }

    /// A removal a member has applied already (a retry after a failover) leaves the name absent, as asked. Only
    /// `absent` (ENOENT, or ENODATA for an extended attribute) counts; every other error is thrown.
    static func ignoringAbsent(_ absent: FileSystemError.Code = .notFound, _ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let error as FileSystemError where error.code == absent {
        }
    }
}
