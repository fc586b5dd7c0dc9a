import Logging
import MortarCatalog
import MortarCore
import MortarManagementAPI
import MortarMembership

extension Manager {
    /// Puts a new, empty brick in the place of one of a replicated volume's. The catalog's rules come first (no
    /// I/O), then the new brick's host checks its directory, then the catalog records the change (written before
    /// anything else happens). On a started volume the old brick is then stopped, which may fail when its host is
    /// gone (often the reason for the replacement) and is only logged, and the new brick is started.
    func replaceBrick(volume name: String, _ request: VolumeReplaceBrickRequest) async throws(FileSystemError)
        -> VolumeInfo
    {
        await lock.acquire()
        defer { lock.release() }
        let old = try BrickLocation(parsing: request.oldBrick)
        let new = try BrickLocation(parsing: request.newBrick)
        let command = CatalogCommand.replaceBrick(volume: name, old: old, new: new, force: request.force)
        var trial = catalog
        _ = try trial.apply(command)
        let newPath = try Catalog.normalizedBrickPath(new)
        do {
            try await agent(for: new.host).check(AgentCheckRequest(paths: [newPath], force: request.force))
        } catch {
            let failure = FileSystemError.wrapping(error)
            throw FileSystemError(failure.code, "\(new.host): \(failure.message)")
        }
        let directives = try await commit(command)
        logger.info("brick replaced", metadata: ["volume": "\(name)", "old": "\(old)", "new": "\(new)"])
        for directive in directives {
            switch directive {
            case .persist:
                continue
            case .stopBricks(let host, let assignments):
                do {
                    try await agent(for: host).stop(assignments.map { AgentBrick($0) })
                } catch {
                    logger.warning("cannot stop the replaced brick", metadata: [
                        "host": "\(host)", "volume": "\(name)", "reason": "\(error)",
                    ])
                }
            case .startBricks(let host, let assignments):
                try await startBricks(assignments, on: host, after: "\(new) replaced \(old) in volume \(name)")
            }
        }
        return try volumeInfo(name: name)
    }

    /// Applies what the failure detector or a heal source reported about a member of a replica set, through the
    /// same path as every change: the catalog is stored before the answer when the view changed. It waits on no
    /// admin command (they may be calling other hosts); `byDetector` marks a failure detector's verdict, which
    /// only the holder of the manager role may apply. Returns the outcome (why the view did or did not change)
    /// and the set's view afterwards.
    func applyMembership(
        volume name: String, setIndex: Int, event: MembershipEvent, byDetector: Bool = false
    ) async throws(FileSystemError) -> (outcome: MembershipOutcome, view: ReplicaSetView) {
        let (outcome, view) = try await transact(needsRole: byDetector, urgent: true) { catalog throws(FileSystemError) in
            let outcome = try catalog.applyMembership(volume: name, setIndex: setIndex, event: event)
            guard let view = catalog.volume(named: name)?.replicaSets[setIndex].view else {
                preconditionFailure("replica set \(setIndex) of volume \(name) vanished after applying \(event)")
            }
            return (outcome.changed, (outcome, view))
        }
        switch outcome {
        case .changed(let reason):
            logger.info("replica set changed", metadata: [
                "volume": "\(name)", "view": "\(view)", "event": "\(event)", "reason": "\(reason)",
            ])
        case .unchanged(let reason):
            logger.debug("replica set unchanged", metadata: [
                "volume": "\(name)", "view": "\(view)", "event": "\(event)", "reason": "\(reason)",
            ])
        }
        return (outcome, view)
    }

    /// Every replica set's current view, by set index; empty for a volume that is not replicated.
    func membership(volume name: String) throws(FileSystemError) -> [ReplicaSetView] {
        try existingVolume(name).replicaSets.map(\.view)
    }

    /// A started replicated volume, for heal requests; a clear error for any other.
    func replicatedVolume(_ name: String) throws(FileSystemError) -> Volume {
        let volume = try existingVolume(name)
        guard volume.replicaCount > 1 else {
            throw FileSystemError.invalidArgument("volume \(name) is not replicated; there is nothing to heal")
        }
        return volume
    }
}
