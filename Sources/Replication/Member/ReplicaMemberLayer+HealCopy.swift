import MortarCore
import MortarMembership
import NIOCore
import Synchronization

/// The ordering member's side of a heal: copies one file or reconciles one directory from this member's copy to
/// a healing member, holding the same sequence keys a client's change would, chunk by chunk, so client changes
/// keep flowing meanwhile and none is overwritten by an older copy.
extension ReplicaMemberLayer {
    func performHeal(_ request: HealRequest, of item: FileID, context: OperationContext) async throws {
        guard context.replication.role == .heal, context.userID == 0 else {
            throw FileSystemError(.operationNotPermitted, "a heal request is sent by heal sources only")
        }
        var asClient = context
        asClient.replication.role = .client
        let view = try await admit(asClient)
        guard view.members.indices.contains(request.member), view.members[request.member] == .healing else {
            throw FileSystemError(.membershipChanged, "member \(request.member) is not healing in epoch \(view.epoch)")
        }
        var toTarget = context
        toTarget.replication = ReplicationStamp(epoch: view.epoch, role: .heal)
        switch request.item {
        case .directory:
            try checkOrderer(view, .namespace)
            try await healDirectory(item, on: request.member, local: asClient, target: toTarget)
        case .file(let ranges):
            try checkOrderer(view, .file(item))
            try await healFile(item, ranges: ranges, on: request.member, local: asClient, target: toTarget)
        }
    }

    /// Records what a primary reports a member missed (see ``HealNote``).
    func recordNote(_ note: HealNote, context: OperationContext) async throws {
        guard context.replication.role == .heal, context.userID == 0 else {
            throw FileSystemError(.operationNotPermitted, "a heal note is sent by primaries only")
        }
        let view = try await admit(context)
        guard view.members[member] == .inSync else {
            throw FileSystemError(.membershipChanged, "member \(member) is not in sync in epoch \(view.epoch)")
        }
        try await journal.record(note.changes, for: note.members, epoch: view.epoch)
    }

    // MARK: Settling unacknowledged changes

    /// A member that holds `changes` unsettled asks the member that orders them (this one) to make every copy this
    /// one's: each directory's entries, then each file's recorded ranges (or whole, or metadata only), copied
    /// from here to every other member in sync or healing, under the sequencer like a heal. A healing member that
    /// has not got the item yet is left to its heal, which copies this member's version anyway.
    func reconcile(_ changes: [HealJournal.Change], context: OperationContext) async throws {
        guard context.replication.role == .heal, context.userID == 0 else {
            throw FileSystemError(.operationNotPermitted, "a reconcile request is sent by members only")
        }
        var asClient = context
        asClient.replication.role = .client
        let view = try await admit(asClient)
        var toTarget = context
        toTarget.replication = ReplicationStamp(epoch: view.epoch, role: .heal)
        let targets = view.members.indices.filter { $0 != member && view.members[$0] != .outOfSync }
        var files: [FileID: [Range<UInt64>]?] = [:]
        for change in changes {
            switch change {
            case .directory(let id):
                try checkOrderer(view, .namespace)
                for target in targets {
                    try await reconciling(id, on: target, view) {
                        try await healDirectory(id, on: target, local: asClient, target: toTarget)
                    }
                }
            case .wholeFile(let id):
                files[id] = .some(nil)
            case .metadata(let id):
                if files[id] == nil { files[id] = .some([]) }
            case .bytes(let id, let range):
                if case .some(.some(let ranges)) = files[id] {
                    files[id] = .some(HealJournal.merge(ranges, range))
                } else if files[id] == nil {
                    files[id] = .some([range])
                }
            }
        }
        for (id, ranges) in files {
            try checkOrderer(view, .file(id))
            for target in targets {
                try await reconciling(id, on: target, view) {
                    try await healFile(id, ranges: ranges, on: target, local: asClient, target: toTarget)
                }
            }
        }
    }

    /// Runs one item's copy to `target`; an item gone here is settled by its directory's copy (which removes it
    /// everywhere), and one a healing member lacks is left to that member's heal.
    private func reconciling(_ id: FileID, on target: Int, _ view: ReplicaSetView, _ copy: () async throws -> Void)
        async throws
    {
        do {
            try await copy()
        } catch let error as FileSystemError where error.code == .notFound || error.code == .staleHandle {
            var local = OperationContext(logger: logger)
            local.replication = ReplicationStamp(epoch: view.epoch, role: .forwarded)
            if try await FileSystemError.nilIfNotFound({ try await next.attributes(of: id, context: local) }) == nil {
                return
            }
            guard view.members[target] == .healing else { throw error }
        }
    }

    /// A backup's barrier: answers once every change this member began before it has finished, and only if none
    /// of them (nor any earlier one) is left unsettled here. The backup may then forget the changes this member
    /// forwarded to it before it sent the barrier: each was acknowledged, or recorded for the members that lack it,
    /// or is still held here, where it will be settled.
    func answerBarrier(context: OperationContext) async throws {
        guard context.replication.role == .heal, context.userID == 0 else {
            throw FileSystemError(.operationNotPermitted, "a settle barrier is sent by members only")
        }
        _ = try await admit(context)
        await sequencer.drain()
        guard intents.isEmpty(for: Self.unsettled) else {
            throw FileSystemError(.busy, "member \(member) holds changes it has not settled yet")
        }
    }

    // MARK: Files

    func healFile(
        _ id: FileID, ranges: [Range<UInt64>]?, on target: Int, local: OperationContext, target remote: OperationContext
    ) async throws {
        let peer = try agent.peer(target)
        let attributes = try await next.attributes(of: id, context: local)
        guard attributes.type == .regular else {
            return try await copyMetadata(id, attributes, on: peer, context: remote)
        }
        // The directory heal makes the file; until it has, there is nothing to copy into. A file it made anew is
        // copied whole.
        _ = try await peer.attributes(of: id, context: remote)
        // Only "no such attribute" means the heal did not make it; a timeout or an I/O error must not turn a
        // whole-file copy into a copy of the recorded ranges only.
        let madeByHeal: Bool
        do {
            _ = try await peer.extendedAttribute(Self.madeByHealAttribute, of: id, context: remote)
            madeByHeal = true
        } catch let error as FileSystemError where error.code == .noData {
            madeByHeal = false
        }
        let ranges = madeByHeal ? nil : ranges
        let source = try await next.open(id, flags: .read, context: local)
        let destination = try await peer.open(id, flags: .readWrite, context: remote)
        do {
            try await copyContent(source, to: destination, ranges: ranges, on: peer, local: local, remote: remote)
            try await copyMetadata(id, try await next.attributes(of: id, context: local), on: peer, context: remote)
            if madeByHeal { try await peer.removeExtendedAttribute(Self.madeByHealAttribute, of: id, context: remote) }
        } catch {
            // Cleanup on the way out: the copy's error is the one to report.
            try? await next.release(source, context: local)
            try? await peer.release(destination, context: remote)
            throw error
        }
        // The copy is complete; a failed release leaves only an open handle, which its connection releases.
        try? await next.release(source, context: local)
        try? await peer.release(destination, context: remote)
    }

    private func copyContent(
        _ source: OpenFile, to destination: OpenFile, ranges: [Range<UInt64>]?, on peer: any FileOperations,
        local: OperationContext, remote: OperationContext
    ) async throws {
        let id = source.id
        // Size first, under the whole-file key: a whole-file copy starts from an empty file of the right size
        // (holes stay holes), a range copy only needs the size to match.
        let size: UInt64 = try await sequenced([.wholeFile(id)]) {
            let size = try await next.attributes(ofOpen: source, context: local).size
            if ranges == nil { try await peer.truncate(destination, to: 0, context: remote) }
            try await peer.truncate(destination, to: size, context: remote)
            return size
        }
        let segments: [Range<UInt64>]
        if let ranges {
            segments = ranges
        } else {
            segments = try await next.dataSegments(of: source, size: size, context: local)  // a sparse image heals its data only
        }
        for segment in segments {
            var offset = segment.lowerBound
            while offset < min(segment.upperBound, size) {
                let count = Int(min(UInt64(Limits.healChunkByteCount), segment.upperBound - offset))
                let chunkEnd = offset + UInt64(count)
                try await sequenced([.bytes(id, lower: offset, upper: chunkEnd)]) {
                    let data = try await next.read(from: source, at: offset, count: count, context: local)
                    guard data.readableBytes > 0 else { return }
                    _ = try await peer.write(data, to: destination, at: offset, context: remote)
                    healedBytes.add(UInt64(data.readableBytes), ordering: .relaxed)
                }
                offset = chunkEnd
            }
        }
    }

    /// Mode, owner, times and extended attributes, as this member has them.
    private func copyMetadata(
        _ id: FileID, _ attributes: FileAttributes, on peer: any FileOperations, context: OperationContext
    ) async throws {
        try await sequenced([.name(id, "")]) {
            if attributes.type != .symbolicLink {
                _ = try await peer.setAttributes(
                    AttributeChanges(permissions: attributes.permissions), of: id, context: context)
            }
            _ = try await peer.setAttributes(
                AttributeChanges(
                    userID: attributes.userID, groupID: attributes.groupID,
                    accessTime: .set(attributes.accessTime), modificationTime: .set(attributes.modificationTime)),
                of: id, context: context)
        }
        guard attributes.type == .regular || attributes.type == .directory else { return }
        let names = try await next.extendedAttributeNames(of: id, context: context)
        let theirs = Set(try await peer.extendedAttributeNames(of: id, context: context))
        for name in names where !name.hasPrefix("trusted.mortar.") {
            let value = try await next.extendedAttribute(name, of: id, context: context)
            try await peer.setExtendedAttribute(name, to: value, mode: .createOrReplace, of: id, context: context)
        }
        for name in theirs.subtracting(names) where !name.hasPrefix("trusted.mortar.") {
            // Gone already is what was asked; any other failure fails the heal, which is then retried.
            try await Self.ignoringAbsent(.noData) { try await peer.removeExtendedAttribute(name, of: id, context: context) }
        }
    }

    private func sequenced<Result>(_ keys: [SequenceKey], _ body: () async throws -> Result) async throws -> Result {
        let ticket = await sequencer.begin(keys)
        defer { sequencer.finish(ticket) }
        return try await body()
    }

    // MARK: Directories

    /// Makes the healing member's entries of `directory` this member's. The two listings are read without holding
    /// the directory, and each name that differs is then settled under that name's own sequence key, looked up
    /// afresh on both sides: a client's change of the same name waits for it (and it for the change), while
    /// changes of other names in the directory go on meanwhile. (Holding the whole directory while hundreds of
    /// missed entries were made stopped every create in it for seconds when a member rejoined.)
    func healDirectory(
        _ directory: FileID, on target: Int, local: OperationContext, target remote: OperationContext
    ) async throws {
        let peer = try agent.peer(target)
        let ours = try await Self.listing(of: directory, on: next, context: local)
        let theirs = try await Self.listing(of: directory, on: peer, context: remote)
        // Names taken by another object first, then what is missing (a renamed file is linked under its new name
        // while its old name still holds it), then what is left over.
        for (name, entry) in theirs where ours[name] != nil && !Self.same(ours[name], entry) {
            try await settleName(name, in: directory, on: peer, local: local, remote: remote) { mine, yours in
                guard mine != nil, let yours, !Self.same(mine, yours) else { return }
                try await remove(name, yours, in: directory, on: peer, context: remote)
            }
        }
        for (name, entry) in ours where !Self.same(theirs[name], entry) {
            try await settleName(name, in: directory, on: peer, local: local, remote: remote) { mine, yours in
                guard let mine, !Self.same(yours, mine) else { return }
                if let yours { try await remove(name, yours, in: directory, on: peer, context: remote) }
                try await make(name, mine, in: directory, on: peer, local: local, remote: remote)
            }
        }
        for (name, _) in theirs where ours[name] == nil {
            try await settleName(name, in: directory, on: peer, local: local, remote: remote) { mine, yours in
                guard mine == nil, let yours else { return }
                try await remove(name, yours, in: directory, on: peer, context: remote)
            }
        }
        let attributes = try await next.attributes(of: directory, context: local)
        try await copyMetadata(directory, attributes, on: peer, context: remote)
    }

    /// Runs `settle` under the name's sequence key with the name's entry as it is now here and on the peer (nil:
    /// absent).
    private func settleName(
        _ name: String, in directory: FileID, on peer: any FileOperations, local: OperationContext,
        remote: OperationContext, _ settle: (_ mine: FileAttributes?, _ yours: FileAttributes?) async throws -> Void
    ) async throws {
        try await sequenced([.name(directory, name)]) {
            let mine = try await FileSystemError.nilIfNotFound { try await next.lookup(name, in: directory, context: local) }
            let yours = try await FileSystemError.nilIfNotFound { try await peer.lookup(name, in: directory, context: remote) }
            try await settle(mine, yours)
        }
    }

    static func same(_ first: FileAttributes?, _ second: FileAttributes) -> Bool {
        first?.id == second.id && first?.type == second.type
    }

    /// Marks a file the heal made anew on a healing member: its content is copied whole, whatever its record says.
    static let madeByHealAttribute = "trusted.mortar.heal-incomplete"

    static func listing(of directory: FileID, on storage: any FileOperations, context: OperationContext) async throws
        -> [String: FileAttributes]
    {
        var entries: [String: FileAttributes] = [:]
        var cookie: UInt64 = 0
        while true {
            let page = try await storage.readDirectory(directory, after: cookie, countMax: 1024, context: context)
            for entry in page.entries where entry.name != "." && entry.name != ".." {
                entries[entry.name] = entry.attributes
            }
            guard let next = page.nextCookie else { return entries }
            cookie = next
        }
    }

    /// Makes on the healing member an entry this member has; a file's content follows from its own record.
    private func make(
        _ name: String, _ entry: FileAttributes, in directory: FileID, on peer: any FileOperations,
        local: OperationContext, remote: OperationContext
    ) async throws {
        switch entry.type {
        case .regular:
            // Only ENOENT means the member lacks the file; a failure to look fails this heal (retried later).
            if try await FileSystemError.nilIfNotFound({ try await peer.attributes(of: entry.id, context: remote) })
                != nil
            {
                _ = try await peer.link(entry.id, as: name, in: directory, context: remote)
            } else {
                let created = try await peer.create(
                    name, in: directory, id: entry.id, permissions: entry.permissions,
                    flags: [.write, .create, .exclusive], context: remote)
                try await peer.release(created.file, context: remote)
                try await peer.setExtendedAttribute(
                    Self.madeByHealAttribute, to: [1], mode: .createOrReplace, of: entry.id, context: remote)
            }
        case .directory:
            _ = try await peer.makeDirectory(
                name, in: directory, id: entry.id, permissions: entry.permissions, context: remote)
        case .symbolicLink:
            let target = try await next.readSymbolicLink(entry.id, context: local)
            _ = try await peer.makeSymbolicLink(name, in: directory, id: entry.id, target: target, context: remote)
        default:
            _ = try await peer.makeNode(
                name, in: directory, id: entry.id, type: entry.type, permissions: entry.permissions,
                device: entry.deviceNumber, context: remote)
        }
        if entry.type != .regular || entry.linkCount <= 1 {
            try await copyMetadata(entry.id, entry, on: peer, context: remote)
        }
    }

    /// Removes from the healing member an entry this member does not have, a directory with all it holds.
    private func remove(
        _ name: String, _ entry: FileAttributes, in directory: FileID, on peer: any FileOperations,
        context: OperationContext
    ) async throws {
        guard entry.type == .directory else {
            return try await Self.ignoringAbsent { try await peer.unlink(name, in: directory, context: context) }
        }
        let inside = try await Self.listing(of: entry.id, on: peer, context: context)
        for (childName, child) in inside {
            try await remove(childName, child, in: entry.id, on: peer, context: context)
        }
        try await Self.ignoringAbsent { try await peer.removeDirectory(name, in: directory, context: context) }
    }
}
