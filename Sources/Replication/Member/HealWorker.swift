import Logging
import MortarCore
import MortarMembership

/// The heal source's side: for every healing member this member is assigned to heal, sends each recorded
/// directory and file to the member that orders it (which copies it under its sequencer), drops what was healed
/// and unchanged since, and, when nothing is left, tells the manager that the member caught up. A member with no
/// usable record (full resync) first has everything recorded. Runs for the life of the brick; passes are paced by
/// `Limits.healCopiesInFlightMax`, so client I/O keeps most of the disk.
public final class HealWorker: Sendable {
    let layer: ReplicaMemberLayer
    let logger: Logger

    public init(layer: ReplicaMemberLayer, logger: Logger) {
        self.layer = layer
        self.logger = logger
    }

    var agent: any ReplicaSetAgent { layer.agent }
    var journal: HealJournal { layer.journal }

    /// Heals until cancelled; looks again whenever the brick learns a new view, and every `idleMilliseconds`
    /// otherwise. It never asks the manager for views: the manager pushes the current one with every heartbeat.
    public func run(idleMilliseconds: Int64 = 500) async {
        let views = ViewChangeSignal()
        agent.observeViews { views.learned($0) }
        var fullyRecorded: Set<String> = []
        while !Task.isCancelled {
            let view = agent.view
            await dropRecordsOfRejoinedMembers(view)
            await settleIntents(view)
            for member in view.members.indices where view.members[member] == .healing {
                guard view.healSources[member] == agent.member else { continue }
                let scanKey = "\(member)@\(view.epoch)"
                if view.fullResync[member] && !fullyRecorded.contains(scanKey) {
                    // Until every file is on the record, an empty record proves nothing: no heal pass (which
                    // would report the member caught up) before the scan has gone through.
                    guard await recordEverything(for: member) else { continue }
                    fullyRecorded.insert(scanKey)
                }
                await healPass(member, view: view)
            }
            await views.wait(newerThan: view.epoch, atMost: idleMilliseconds)
        }
    }

    private func dropRecordsOfRejoinedMembers(_ view: ReplicaSetView) async {
        for member in view.members.indices
        where member != agent.member && view.members[member] == .inSync && !journal.isEmpty(for: member) {
            await journal.forget(member: member, recordedBefore: view.epoch)
        }
    }

    var intents: HealJournal { layer.intents }

    /// Settles the changes this member applied without knowing their outcome elsewhere (see
    /// ``ReplicaMemberLayer/recordIntent(_:origin:view:)``), then drops its own markers that no change needs.
    ///
    /// - Changes ordered by a member that is still in sync are forgotten once it answers a barrier (every change
    ///   it began before is settled: acknowledged, recorded for the members that lack it, or held by it as
    ///   unsettled). Ordered here, the barrier is this member's own sequencer.
    /// - Changes ordered by a member that left the in-sync set since (it may have died between forwards), or
    ///   that failed here, are unsettled. While this member is in sync it asks each item's orderer to copy its
    ///   version to every member; while it is not, it hands them to the in-sync members as missed here, so its
    ///   heal overwrites them. Either way every copy ends up as one version.
    /// - A member out of sync hands over everything at once: it will be healed anyway, and the manager lets it
    ///   heal only when nothing of its own is left.
    func settleIntents(_ view: ReplicaSetView) async {
        let own = agent.member
        for origin in view.members.indices where !intents.isEmpty(for: origin) {
            let files = intents.pendingFiles(of: origin)
            let directories = intents.pendingDirectories(of: origin)
            if view.members[own] != .outOfSync && view.members[origin] == .inSync {
                do {
                    try await barrier(origin, view: view)
                } catch {
                    logger.debug("member \(origin) did not answer a barrier yet: \(error)")
                    continue
                }
            } else {
                keepUnsettled(files: files, directories: directories)
            }
            for (id, record) in files { await intents.completeFile(id, of: origin, version: record.version) }
            for (id, version) in directories { await intents.completeDirectory(id, of: origin, version: version) }
        }
        let unsettled = ReplicaMemberLayer.unsettled
        if !intents.isEmpty(for: unsettled) {
            let files = intents.pendingFiles(of: unsettled)
            let directories = intents.pendingDirectories(of: unsettled)
            let settled =
                view.members[own] == .inSync
                ? await reconcile(files: files, directories: directories, view: view)
                : await handOver(files: files, directories: directories, view: view)
            if settled {
                for (id, record) in files { await intents.completeFile(id, of: unsettled, version: record.version) }
                for (id, version) in directories {
                    await intents.completeDirectory(id, of: unsettled, version: version)
                }
            }
        }
        await dropSettledMarkers()
    }

    private func barrier(_ origin: Int, view: ReplicaSetView) async throws {
        if origin == agent.member { return await layer.sequencer.drain() }
        _ = try await agent.peer(origin).control(.settleBarrier, context: memberContext(view))
    }

    private func keepUnsettled(
        files: [(id: FileID, record: HealJournal.FileRecord)], directories: [(id: FileID, version: UInt64)]
    ) {
        intents.recordInMemory(
            Self.changes(files: files, directories: directories), for: [ReplicaMemberLayer.unsettled],
            epoch: agent.view.epoch)
    }

    /// Asks the orderer of each item to copy its version everywhere; true when every orderer did.
    private func reconcile(
        files: [(id: FileID, record: HealJournal.FileRecord)], directories: [(id: FileID, version: UInt64)],
        view: ReplicaSetView
    ) async -> Bool {
        var byOrderer: [Int: [HealJournal.Change]] = [:]
        if let orderer = view.namespacePrimary, !directories.isEmpty {
            byOrderer[orderer, default: []] += directories.map { .directory($0.id) }
        }
        for file in files {
            guard let orderer = view.primary(for: file.id) else { return false }
            byOrderer[orderer, default: []] += Self.changes(files: [file], directories: [])
        }
        guard directories.isEmpty || view.namespacePrimary != nil else { return false }
        for (orderer, changes) in byOrderer.sorted(by: { $0.key < $1.key }) {
            // Directories before files, so a file's name is made before its data is copied.
            let ordered = changes.filter { if case .directory = $0 { true } else { false } }
                + changes.filter { if case .directory = $0 { false } else { true } }
            for batch in stride(from: 0, to: ordered.count, by: Limits.healNoteChangesMax).map({
                Array(ordered[$0..<min($0 + Limits.healNoteChangesMax, ordered.count)])
            }) {
                do {
                    if orderer == agent.member {
                        try await layer.reconcile(batch, context: memberContext(view))
                    } else {
                        let note = HealNote(members: [agent.member], changes: batch)
                        _ = try await agent.peer(orderer).control(.reconcile(note), context: memberContext(view))
                    }
                } catch {
                    logger.info("member \(orderer) could not settle \(batch.count) unacknowledged changes yet: \(error)")
                    return false
                }
            }
        }
        logger.info("settled \(files.count) files and \(directories.count) directories changed without an acknowledgement")
        return true
    }

    /// Has every in-sync member record the items as missed by this member; true when all did.
    private func handOver(
        files: [(id: FileID, record: HealJournal.FileRecord)], directories: [(id: FileID, version: UInt64)],
        view: ReplicaSetView
    ) async -> Bool {
        let own = agent.member
        let changes = Self.changes(files: files, directories: directories)
        for member in view.inSyncMembers where member != own {
            for batch in stride(from: 0, to: changes.count, by: Limits.healNoteChangesMax).map({
                Array(changes[$0..<min($0 + Limits.healNoteChangesMax, changes.count)])
            }) {
                do {
                    let note = HealNote(members: [own], changes: batch)
                    _ = try await agent.peer(member).control(.recordMissed(note), context: memberContext(view))
                } catch {
                    logger.info("could not hand unacknowledged changes to member \(member) yet: \(error)")
                    return false
                }
            }
        }
        logger.info("handed \(changes.count) unacknowledged changes to the in-sync members for heal")
        return true
    }

    /// Drops this member's own markers of items no unsettled change names any more.
    private func dropSettledMarkers() async {
        let own = agent.member
        for (id, record) in journal.pendingFiles(of: own) where !intents.mentions(id) {
            await journal.completeFile(id, of: own, version: record.version)
        }
        for (id, version) in journal.pendingDirectories(of: own) where !intents.mentions(id) {
            await journal.completeDirectory(id, of: own, version: version)
        }
    }

    private func memberContext(_ view: ReplicaSetView) -> OperationContext {
        var context = OperationContext(logger: logger)
        context.replication = ReplicationStamp(epoch: view.epoch, role: .heal)
        return context
    }

    static func changes(
        files: [(id: FileID, record: HealJournal.FileRecord)], directories: [(id: FileID, version: UInt64)]
    ) -> [HealJournal.Change] {
        var changes: [HealJournal.Change] = directories.map { .directory($0.id) }
        for file in files {
            if file.record.wholeFile {
                changes.append(.wholeFile(file.id))
            } else if file.record.ranges.isEmpty {
                changes.append(.metadata(file.id))
            } else {
                changes += file.record.ranges.map { .bytes(file.id, $0) }
            }
        }
        return changes
    }

    /// One pass over the member's record: directories first (a file's heal needs its name made), then files.
    /// Reports the member caught up when the record is empty at the end of a pass.
    func healPass(_ member: Int, view: ReplicaSetView) async {
        for (directory, version) in journal.pendingDirectories(of: member) {
            guard !Task.isCancelled else { return }
            if await heal(directory, .directory, member: member, orderer: view.namespacePrimary, view: view) {
                await journal.completeDirectory(directory, of: member, version: version)
            }
        }
        let files = journal.pendingFiles(of: member)
        await withTaskGroup(of: Void.self) { group in
            var running = 0
            for (file, record) in files {
                if running >= Limits.healCopiesInFlightMax {
                    await group.next()
                    running -= 1
                }
                running += 1
                group.addTask {
                    let item: HealRequest.Item = .file(ranges: record.wholeFile ? nil : record.ranges)
                    if await self.heal(file, item, member: member, orderer: view.primary(for: file), view: view) {
                        await self.journal.completeFile(file, of: member, version: record.version)
                    }
                }
            }
        }
        guard journal.isEmpty(for: member), !Task.isCancelled else { return }
        do {
            let after = try await agent.report(.caughtUp(member: member, source: agent.member, epoch: view.epoch))
            logger.info("member \(member) of replica set \(view.setIndex) caught up; set is now \(after)")
        } catch {
            logger.warning("could not report member \(member) caught up: \(error)")
        }
    }

    /// Has `orderer` heal one item; true when it is healed, or gone here (nothing left to heal).
    private func heal(_ id: FileID, _ item: HealRequest.Item, member: Int, orderer: Int?, view: ReplicaSetView) async
        -> Bool
    {
        guard let orderer else { return false }
        var context = OperationContext(logger: logger)
        context.replication = ReplicationStamp(epoch: view.epoch, role: .heal)
        let request = HealRequest(member: member, item: item)
        do {
            if orderer == agent.member {
                try await layer.performHeal(request, of: id, context: context)
            } else {
                _ = try await agent.peer(orderer).control(.heal(request, file: id), context: context)
            }
            return true
        } catch let error as FileSystemError where error.code == .notFound {
            // Removed since it was recorded: nothing to heal. Otherwise its name is not on the member yet. Only
            // ENOENT here says "removed": failing to read the item is no proof it is gone, so the record stays.
            var local = OperationContext(logger: logger)
            local.replication = ReplicationStamp(epoch: view.epoch, role: .forwarded)
            do {
                _ = try await layer.next.attributes(of: id, context: local)
                logger.debug("\(id) is not on member \(member) yet; healing it on a later pass")
                return false
            } catch let local as FileSystemError where local.code == .notFound {
                return true
            } catch {
                logger.warning("heal of \(id) for member \(member): cannot read it here: \(error); retrying on a later pass")
                return false
            }
        } catch {
            logger.warning("heal of \(id) for member \(member) failed: \(error); retrying on a later pass")
            return false
        }
    }

    /// Full resync: every directory and file of this member's copy goes into the member's record. False when a
    /// directory could not be listed or the record not written: the scan is then incomplete and runs again.
    private func recordEverything(for member: Int) async -> Bool {
        var pending: [FileID] = [.root]
        var context = OperationContext(logger: logger)
        context.replication = ReplicationStamp(epoch: agent.view.epoch, role: .forwarded)
        var changes: [HealJournal.Change] = []
        while let directory = pending.popLast() {
            changes.append(.directory(directory))
            let entries: [String: FileAttributes]
            do {
                entries = try await ReplicaMemberLayer.listing(of: directory, on: layer.next, context: context)
            } catch let error as FileSystemError where error.code == .notFound && directory != .root {
                // Removed since its parent was listed: nothing under it to copy (its parent's heal removes it).
                continue
            } catch {
                logger.warning("full resync of member \(member): cannot list directory \(directory): \(error); scanning again")
                return false
            }
            for entry in entries.values {
                if entry.type == .directory {
                    pending.append(entry.id)
                } else {
                    changes.append(.wholeFile(entry.id))
                }
            }
            if changes.count >= 4_096 {
                guard await recordScanned(changes, for: member) else { return false }
                changes.removeAll()
            }
        }
        guard await recordScanned(changes, for: member) else { return false }
        logger.info("member \(member) needs a full resync: recorded every file and directory")
        return true
    }

    private func recordScanned(_ changes: [HealJournal.Change], for member: Int) async -> Bool {
        do {
            try await journal.record(changes, for: [member], epoch: agent.view.epoch)
            return true
        } catch {
            logger.warning("full resync of member \(member): \(error); scanning again")
            return false
        }
    }
}
