import MortarCore

extension Catalog {
    /// Validates `command` against the catalog; on success changes the catalog, bumps ``version`` if anything
    /// changed, and returns what the shell must do. On failure the catalog is unchanged.
    public mutating func apply(_ command: CatalogCommand) throws(FileSystemError) -> [CatalogDirective] {
        switch command {
        case .createVolume(let name, let id, let bricks, _):
            return try createVolume(name: name, id: id, locations: bricks)
        case .startVolume(let name):
            return try startVolume(name: name)
        case .stopVolume(let name):
            return try stopVolume(name: name)
        case .deleteVolume(let name):
            return try deleteVolume(name: name)
        case .addPeer(let peer):
            return try addPeer(peer)
        case .removePeer(let host):
            return try removePeer(host: host)
        case .setPeerState(let host, let state):
            return try setPeerState(host: host, state: state)
        }
    }

    private mutating func createVolume(
        name: String, id: String, locations: [BrickLocation]
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
        var bricks: [Brick] = []
        for (index, location) in locations.enumerated() {
            let path = try Self.normalizedBrickPath(location)
            try checkHostIsKnown(location.host)
            let candidate = BrickLocation(host: location.host, path: path)
            try checkNoConflict(candidate, newBricks: bricks)
            let port = try allocatePort(host: location.host, newBricks: bricks)
            bricks.append(Brick(host: location.host, path: path, port: port, index: index))
        }
        replaceVolumes(volumes + [Volume(name: name, id: id, state: .created, bricks: bricks)])
        bumpVersion()
        return [.persist]
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

    private func existingVolume(_ name: String) throws(FileSystemError) -> Volume {
        guard let volume = volume(named: name) else {
            throw FileSystemError.notFound("volume \(name) does not exist")
        }
        return volume
    }

    private mutating func replace(_ volume: Volume) {
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
