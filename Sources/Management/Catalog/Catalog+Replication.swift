import MortarCore
import MortarMembership

extension Catalog {
    /// Checks a create's replication arguments against its brick count. Returns the minimum of in-sync members
    /// each set starts with, or nil for a volume that is not replicated.
    static func validateReplication(
        brickCount: Int, replicaCount: Int, minInSync: Int?
    ) throws(FileSystemError) -> Int? {
        guard replicaCount == 1 || (2...Limits.replicaCountMax).contains(replicaCount) else {
            throw FileSystemError.invalidArgument(
                "replica \(replicaCount) is not possible: a replica set has 2 to \(Limits.replicaCountMax) members "
                    + "(replica 1 means not replicated)")
        }
        guard replicaCount > 1 else {
            if let minInSync {
                throw FileSystemError.invalidArgument(
                    "min-in-sync \(minInSync) needs a replicated volume; give replica N as well")
            }
            return nil
        }
        guard brickCount % replicaCount == 0 else {
            throw FileSystemError.invalidArgument("\(brickCount) bricks do not divide into sets of \(replicaCount)")
        }
        let chosen = minInSync ?? ReplicaSetView.majority(of: replicaCount)
        guard (1...replicaCount).contains(chosen) else {
            throw FileSystemError.invalidArgument(
                "min-in-sync \(chosen) is not possible with replica \(replicaCount): use 1 to \(replicaCount)")
        }
        return chosen
    }

    /// Refuses, unless `force`, a replica set with two members on one host: that host's loss would take every
    /// copy those members hold at once, which is what replication is for.
    func checkReplicaSetHosts(_ bricks: [Brick], replicaCount: Int, force: Bool) throws(FileSystemError) {
        for setStart in stride(from: 0, to: bricks.count, by: replicaCount) {
            try checkSetHosts(Array(bricks[setStart..<setStart + replicaCount]), setIndex: setStart / replicaCount,
                              force: force)
        }
    }

    /// The same rule for one set's members, in member order.
    func checkSetHosts(_ members: [Brick], setIndex: Int, force: Bool) throws(FileSystemError) {
        guard !force else { return }
        for (position, member) in members.enumerated() {
            if let other = members[(position + 1)...].first(where: { hostKey($0.host) == hostKey(member.host) }) {
                throw FileSystemError.invalidArgument(
                    "bricks \(member.index) and \(other.index) of replica set \(setIndex) are both on host "
                        + "\(member.host): losing that host loses the set; add --force to accept that")
            }
        }
    }

    /// Applies `event` to replica set `setIndex` of the replicated volume `name`. Bumps ``version`` only when the
    /// outcome changed the set's view; an unchanged outcome leaves the catalog exactly as it was (the reason says
    /// why). Throws for a volume or set that does not exist, a volume that is not replicated, and what the
    /// membership itself refuses (replacing a set's only in-sync member).
    public mutating func applyMembership(
        volume name: String, setIndex: Int, event: MembershipEvent
    ) throws(FileSystemError) -> MembershipOutcome {
        var volume = try existingVolume(name)
        guard volume.isReplicated else {
            throw FileSystemError.invalidArgument("volume \(name) is not replicated; it has no replica sets")
        }
        guard volume.replicaSets.indices.contains(setIndex) else {
            throw FileSystemError.invalidArgument(
                "volume \(name) has \(volume.replicaSets.count) replica sets (0 to \(volume.replicaSets.count - 1)); "
                    + "set \(setIndex) does not exist")
        }
        var membership = volume.replicaSets[setIndex]
        let outcome = try membership.apply(event)
        guard outcome.changed else { return outcome }
        volume.replicaSets[setIndex] = membership
        replace(volume)
        return outcome
    }

    /// Puts a new, empty brick in the place of `old`: it takes the old brick's index and member position, gets a
    /// port of its own (the old brick's process may still hold the old one), and its set records it as replaced,
    /// so it is out of sync and needs a full heal. A started volume's old brick is stopped and the new one started.
    mutating func replaceBrick(
        volume name: String, old: BrickLocation, new: BrickLocation, force: Bool
    ) throws(FileSystemError) -> [CatalogDirective] {
        var volume = try existingVolume(name)
        guard volume.isReplicated else {
            throw FileSystemError.invalidArgument(
                "replace-brick needs a replicated volume: a distribute brick holds the only copy of its files")
        }
        let oldPath = try Self.normalizedBrickPath(old)
        guard let position = volume.bricks.firstIndex(where: {
            hostKey($0.host) == hostKey(old.host) && $0.path == oldPath
        }) else {
            throw FileSystemError.notFound("brick \(old.host):\(oldPath) is not part of volume \(name)")
        }
        let oldBrick = volume.bricks[position]
        let newPath = try Self.normalizedBrickPath(new)
        try checkHostIsKnown(new.host)
        try checkNoConflict(BrickLocation(host: new.host, path: newPath), newBricks: [])
        let port = try allocatePort(host: new.host, newBricks: [])
        let newBrick = Brick(host: new.host, path: newPath, port: port, index: oldBrick.index)
        volume.bricks[position] = newBrick
        let (setIndex, member) = volume.replicaPosition(ofBrick: oldBrick.index)
        try checkSetHosts(volume.bricks(ofSet: setIndex), setIndex: setIndex, force: force)
        try volume.replicaSets[setIndex].apply(.replaced(member: member))
        replace(volume)
        guard volume.state == .started else { return [.persist] }
        return [
            .persist,
            .stopBricks(host: oldBrick.host, [volume.assignment(of: oldBrick)]),
            .startBricks(host: newBrick.host, [volume.assignment(of: newBrick)]),
        ]
    }
}
