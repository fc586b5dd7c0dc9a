import MortarCore
import MortarMembership
import MortarVolumeSpec

extension Catalog {
    /// Validates `command` against the catalog; on success changes the catalog, bumps ``version`` if anything
    /// changed, and returns what the shell must do. On failure the catalog is unchanged.
    public mutating func apply(_ command: CatalogCommand) throws(FileSystemError) -> [CatalogDirective] {
        switch command {
        case .createVolume(let name, let id, let bricks, let replicaCount, let minInSync, let force):
            return try createVolume(
                name: name, id: id, locations: bricks, replicaCount: replicaCount, minInSync: minInSync, force: force)
        case .startVolume(let name):
            return try startVolume(name: name)
        case .stopVolume(let name):
            return try stopVolume(name: name)
        case .deleteVolume(let name):
            return try deleteVolume(name: name)
        case .membership(let volume, let setIndex, let event):
            let outcome = try applyMembership(volume: volume, setIndex: setIndex, event: event)
            return outcome.changed ? [.persist] : []
        case .replaceBrick(let volume, let old, let new, let force):
            return try replaceBrick(volume: volume, old: old, new: new, force: force)
        case .addBricks(let volume, let bricks, let force):
            return try addBricks(volume: volume, locations: bricks, force: force)
        case .startRebalance(let volume):
            return try startRebalance(volume: volume)
        case .stopRebalance(let volume):
            return try stopRebalance(volume: volume)
        case .recordRebalance(let volume, let run, let progress, let state, let failure):
            return try recordRebalance(volume: volume, run: run, progress: progress, state: state, failure: failure)
        case .setOption(let volume, let name, let value):
            var changed = try existingVolume(volume)
            changed.options[name] = try VolumeOptions.validate(name, value)
            replace(changed)
            return [.persist]
        case .resetOption(let volume, let name):
            var changed = try existingVolume(volume)
            if let name {
                guard VolumeOptions.defaults[name] != nil else {
                    throw FileSystemError.invalidArgument("unknown volume option '\(name)'")
                }
                changed.options[name] = nil
            } else {
                changed.options = [:]
            }
            replace(changed)
            return [.persist]
        case .addPeer(let peer):
            return try addPeer(peer)
        case .registerDaemon(let peer):
            return try registerDaemon(peer)
        case .removePeer(let host):
            return try removePeer(host: host)
        case .setPeerState(let host, let state):
            return try setPeerState(host: host, state: state)
        case .revokeCertificates(let certificates):
            return try revokeCertificates(certificates)
        }
    }

    private mutating func createVolume(
        name: String, id: String, locations: [BrickLocation], replicaCount: Int, minInSync: Int?, force: Bool
    ) throws(FileSystemError) -> [CatalogDirective] {
        try Self.validateVolumeName(name)
        guard volume(named: name) == nil else {
            throw FileSystemError(.exists, "volume \(name) already exists")
        }
        guard !locations.isEmpty else {
            throw FileSystemError.invalidArgument("volume \(name) needs at least one brick")
        }
        guard locations.count <= Limits.bricksPerVolumeMax else {
            throw FileSystemError.invalidArgument(
                "volume \(name) has \(locations.count) bricks; at most \(Limits.bricksPerVolumeMax) are allowed")
        }
        let setMinInSync = try Self.validateReplication(
            brickCount: locations.count, replicaCount: replicaCount, minInSync: minInSync)
        var bricks: [Brick] = []
        for (index, location) in locations.enumerated() {
            let path = try Self.normalizedBrickPath(location)
            try checkHostIsKnown(location.host)
            let candidate = BrickLocation(host: location.host, path: path)
            try checkNoConflict(candidate, newBricks: bricks)
            let port = try allocatePort(host: location.host, newBricks: bricks)
            bricks.append(Brick(host: location.host, path: path, port: port, index: index))
        }
        var volume = Volume(name: name, id: id, state: .created, bricks: bricks)
        if let setMinInSync {
            try checkReplicaSetHosts(bricks, replicaCount: replicaCount, force: force)
            volume.replicaCount = replicaCount
            volume.replicaSets = (0..<bricks.count / replicaCount).map { setIndex in
                ReplicaSetMembership(setIndex: setIndex, memberCount: replicaCount, minInSync: setMinInSync)
            }
        }
        replaceVolumes(volumes + [volume])
        bumpVersion()
        return [.persist]
    }

    /// `force` accepts two members of one new replica set on one host, and the host agents honour it by making a
    /// missing directory; every other rule holds regardless.
    private mutating func addBricks(volume name: String, locations: [BrickLocation], force: Bool)
        throws(FileSystemError) -> [CatalogDirective]
    {
        var volume = try existingVolume(name)
        guard !locations.isEmpty else {
            throw FileSystemError.invalidArgument("add-brick to volume \(name) names no brick")
        }
        guard volume.bricks.count + locations.count <= Limits.bricksPerVolumeMax else {
            throw FileSystemError.invalidArgument(
                "volume \(name) would have \(volume.bricks.count + locations.count) bricks; at most "
                    + "\(Limits.bricksPerVolumeMax) are allowed")
        }
        guard locations.count % volume.replicaCount == 0 else {
            throw FileSystemError.invalidArgument(
                "volume \(name) is replica \(volume.replicaCount): add whole replica sets, a multiple of "
                    + "\(volume.replicaCount) bricks, not \(locations.count)")
        }
        var history = volume.layoutHistory
        guard history.changes.count < Limits.layoutChangesMax else {
            throw FileSystemError.invalidArgument(
                "volume \(name) has grown \(history.changes.count) times, the most its layout history keeps")
        }
        var added: [Brick] = []
        for location in locations {
            let path = try Self.normalizedBrickPath(location)
            try checkHostIsKnown(location.host)
            let candidate = BrickLocation(host: location.host, path: path)
            try checkNoConflict(candidate, newBricks: added)
            let port = try allocatePort(host: location.host, newBricks: added)
            added.append(Brick(host: location.host, path: path, port: port, index: volume.bricks.count + added.count))
        }
        if volume.isReplicated {
            try checkReplicaSetHosts(added, replicaCount: volume.replicaCount, force: force)
            let minInSync = volume.replicaSets.first?.view.minInSync ?? volume.replicaCount / 2 + 1
            let firstSet = volume.replicaSets.count
            volume.replicaSets += (0..<added.count / volume.replicaCount).map { offset in
                ReplicaSetMembership(setIndex: firstSet + offset, memberCount: volume.replicaCount, minInSync: minInSync)
            }
        }
        history.changes.append(.added(added.count / volume.replicaCount))
        volume.bricks += added
        volume.layout = history
        Self.restartRebalance(of: &volume)
        replace(volume)
        guard volume.state == .started else { return [.persist] }
        var startAdded = volume
        startAdded.bricks = added
        return [.persist] + brickDirectives(startAdded, start: true)
    }

    private mutating func startVolume(name: String) throws(FileSystemError) -> [CatalogDirective] {
        var volume = try existingVolume(name)
        guard volume.state != .started else {
            throw FileSystemError(.busy, "volume \(name) is already started")
        }
        volume.state = .started
        replace(volume)
        return [.persist] + brickDirectives(volume, start: true)
    }

    private mutating func stopVolume(name: String) throws(FileSystemError) -> [CatalogDirective] {
        var volume = try existingVolume(name)
        guard volume.state == .started else {
            throw FileSystemError.invalidArgument("volume \(name) is not started")
        }
        volume.state = .stopped
        Self.stopRebalance(of: &volume)
        replace(volume)
        return [.persist] + brickDirectives(volume, start: false)
    }

    private mutating func deleteVolume(name: String) throws(FileSystemError) -> [CatalogDirective] {
        let volume = try existingVolume(name)
        guard volume.state != .started else {
            throw FileSystemError(.busy, "volume \(name) is started; stop it first")
        }
        replaceVolumes(volumes.filter { $0.name != name })
        bumpVersion()
        return [.persist]
    }

    private mutating func addPeer(_ peer: Peer) throws(FileSystemError) -> [CatalogDirective] {
        guard !isLocal(peer.host) else {
            throw FileSystemError.invalidArgument("\(peer.host) is this host; it is part of the cluster already")
        }
        guard self.peer(host: peer.host) == nil else {
            throw FileSystemError(.exists, "\(peer.host) is already a peer of this cluster")
        }
        if let same = peers.first(where: { $0.id == peer.id }) {
            throw FileSystemError(.exists, "\(peer.host) is the same daemon as peer \(same.host)")
        }
        replacePeers(peers + [peer])
        bumpVersion()
        return [.persist]
    }

    private mutating func registerDaemon(_ peer: Peer) throws(FileSystemError) -> [CatalogDirective] {
        guard !peer.host.isEmpty, (1...Limits.portNumberMax).contains(peer.port), !peer.id.isEmpty else {
            throw FileSystemError.invalidArgument("a daemon registration needs an identity, a host and a port")
        }
        if let other = peers.first(where: { $0.id == peer.id && $0.host != peer.host }) {
            throw FileSystemError(
                .exists, "daemon \(peer.id) is registered as host \(other.host), not \(peer.host); detach it first")
        }
        guard self.peer(host: peer.host) != peer else { return [] }
        replacePeers(self.peer(host: peer.host) == nil
            ? peers + [peer] : peers.map { $0.host == peer.host ? peer : $0 })
        bumpVersion()
        return [.persist]
    }

    private mutating func removePeer(host: String) throws(FileSystemError) -> [CatalogDirective] {
        guard self.peer(host: host) != nil else {
            throw FileSystemError.notFound("\(host) is not a peer of this cluster")
        }
        if let volume = volumes.first(where: { $0.bricks.contains { $0.host == host } }) {
            throw FileSystemError(.busy, "\(host) holds bricks of volume \(volume.name); delete the volume first")
        }
        replacePeers(peers.filter { $0.host != host })
        bumpVersion()
        return [.persist]
    }

    private mutating func setPeerState(host: String, state: PeerState) throws(FileSystemError) -> [CatalogDirective] {
        guard var peer = self.peer(host: host) else {
            throw FileSystemError.notFound("\(host) is not a peer of this cluster")
        }
        guard peer.state != state else { return [] }
        peer.state = state
        replacePeers(peers.map { $0.host == host ? peer : $0 })
        bumpVersion()
        return [.persist]
    }

    private mutating func revokeCertificates(_ certificates: [String: String]) throws(FileSystemError)
        -> [CatalogDirective]
    {
        for (serial, name) in certificates {
            guard !serial.isEmpty, serial.utf8.count <= 64,
                serial.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) })
            else {
                throw FileSystemError.invalidArgument("'\(serial)' is not a certificate serial number (lower-case hex)")
            }
            guard (1...Limits.certificateNameByteCountMax).contains(name.utf8.count),
                name.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f })
            else {
                throw FileSystemError.invalidArgument("'\(name)' is not a certificate name")
            }
        }
        let new = certificates.filter { revokedCertificates[$0.key] == nil }
        guard !new.isEmpty else { return [] }
        guard revokedCertificates.count + new.count <= Limits.revokedCertificatesMax else {
            throw FileSystemError(
                .noSpace, "the cluster has \(revokedCertificates.count) revoked certificates, the most it keeps is \(Limits.revokedCertificatesMax)")
        }
        addRevocations(new)
        bumpVersion()
        return [.persist]
    }

    func existingVolume(_ name: String) throws(FileSystemError) -> Volume {
        guard let volume = volume(named: name) else {
            throw FileSystemError.notFound("volume \(name) does not exist")
        }
        return volume
    }

    /// Puts `volume` in the place of the volume of the same name and bumps the version.
    mutating func replace(_ volume: Volume) {
        replaceVolumes(volumes.map { $0.name == volume.name ? volume : $0 })
        bumpVersion()
    }

    /// One directive per host, bricks in index order, hosts in order of their first brick.
    private func brickDirectives(_ volume: Volume, start: Bool) -> [CatalogDirective] {
        var hosts: [String] = []
        var assignments: [String: [BrickAssignment]] = [:]
        for brick in volume.bricks {
            if assignments[brick.host] == nil { hosts.append(brick.host) }
            assignments[brick.host, default: []].append(volume.assignment(of: brick))
        }
        return hosts.map { host in
            let list = assignments[host] ?? []
            return start ? .startBricks(host: host, list) : .stopBricks(host: host, list)
        }
    }
}
