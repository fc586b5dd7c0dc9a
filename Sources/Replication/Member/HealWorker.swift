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

    /// Heals until cancelled; looks again whenever the view changes, and every `idleMilliseconds` otherwise.
    public func run(idleMilliseconds: Int64 = 500) async {
        var fullyRecorded: Set<String> = []
        while !Task.isCancelled {
            let view = agent.view
            await dropRecordsOfRejoinedMembers(view)
            await handOverUnsettledChanges(view)
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
            _ = await agent.view(atLeast: view.epoch + 1, waitingAtMost: idleMilliseconds)
        }
    }

    private func dropRecordsOfRejoinedMembers(_ view: ReplicaSetView) async {
        for member in view.members.indices
        where member != agent.member && view.members[member] == .inSync && !journal.isEmpty(for: member) {
            await journal.forget(member: member)
        }
    }

    /// Changes this member applied without an acknowledgement (see ``ReplicaMemberLayer/recordUnsettled``): while
    /// it is out of sync, every in-sync member records them as missed by it, so its heal overwrites them. While it
    /// is in sync nobody heals it, and the writer that got the error sends the change again, so they are dropped.
    private func handOverUnsettledChanges(_ view: ReplicaSetView) async {
        let own = agent.member
        guard !journal.isEmpty(for: own) else { return }
        guard view.members[own] != .inSync else { return await journal.forget(member: own) }
        var changes: [HealJournal.Change] = journal.pendingDirectories(of: own).map { .directory($0.id) }
        changes += journal.pendingFiles(of: own).flatMap { file -> [HealJournal.Change] in
            file.record.wholeFile || file.record.ranges.isEmpty
                ? [.wholeFile(file.id)] : file.record.ranges.map { .bytes(file.id, $0) }
        }
        var context = OperationContext(logger: logger)
        context.replication = ReplicationStamp(epoch: view.epoch, role: .heal)
        let note = HealNote(members: [own], changes: changes)
        for member in view.inSyncMembers {
            do {
                try await agent.peer(member).setExtendedAttribute(
                    HealNote.attributeName, to: note.encoded, mode: .createOrReplace, of: .root, context: context)
            } catch {
                logger.info("could not hand unacknowledged changes to member \(member) yet: \(error)")
                return
            }
        }
        await journal.forget(member: own)
        logger.info("handed \(changes.count) unacknowledged changes to the in-sync members for heal")
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
                try await agent.peer(orderer).setExtendedAttribute(
                    HealRequest.attributeName, to: request.encoded, mode: .createOrReplace, of: id, context: context)
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
            try await journal.record(changes, for: [member])
            return true
        } catch {
            logger.warning("full resync of member \(member): \(error); scanning again")
            return false
        }
    }
}
