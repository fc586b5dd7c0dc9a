import MortarCore

extension Catalog {
    /// Volume names are what users type and what appear in log file names: `[A-Za-z0-9_-]{1,64}`.
    public static func validateVolumeName(_ name: String) throws(FileSystemError) {
        let allowed = name.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x2D || byte == 0x5F
        }
        guard !name.isEmpty, name.utf8.count <= Limits.volumeNameByteCountMax, allowed else {
            throw FileSystemError.invalidArgument(
                "invalid volume name '\(name)': use 1 to \(Limits.volumeNameByteCountMax) letters, digits, '-' or '_'")
        }
    }

    /// The brick's path with repeated and trailing slashes removed. Relative paths, `.` and `..` components and
    /// the root directory are refused: each would make "the same directory" ambiguous.
    public static func normalizedBrickPath(_ location: BrickLocation) throws(FileSystemError) -> String {
        guard location.path.hasPrefix("/") else {
            throw FileSystemError.invalidArgument("brick \(location) has a relative path; give an absolute one")
        }
        guard location.path.utf8.count <= Limits.pathByteCountMax, !location.path.utf8.contains(0) else {
            throw FileSystemError.invalidArgument("brick \(location.host) has an invalid path")
        }
        let components = location.path.split(separator: "/")
        guard !components.contains(where: { $0 == "." || $0 == ".." }) else {
            throw FileSystemError.invalidArgument("brick \(location) has '.' or '..' in its path")
        }
        guard !components.isEmpty else {
            throw FileSystemError.invalidArgument("brick \(location) is the root directory")
        }
        return "/" + components.joined(separator: "/")
    }

    /// Directories of the operating system a brick may not be, lie inside or contain without `--force`: a volume
    /// over one of them hands its files (or, through `/proc` and `/dev`, the machine) to every client.
    public static let systemDirectories = [
        "/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/run", "/sbin",
        "/sys", "/usr", "/var/lib/dpkg", "/var/log",
    ]

    /// Refuses a normalised brick path that is, lies inside or contains a system directory or `stateDirectory` (the
    /// daemon's own state: a brick there would let clients rewrite the catalog or another brick's files), unless
    /// `force`; the state directory is refused even then. `stateDirectory` is normalised and canonical.
    public static func checkPlacement(_ path: String, stateDirectory: String, force: Bool) throws(FileSystemError) {
        if pathsOverlap(path, stateDirectory) {
            throw FileSystemError.invalidArgument(
                "brick path \(path) overlaps the daemon's state directory \(stateDirectory)")
        }
        guard !force else { return }
        if let system = systemDirectories.first(where: { pathsOverlap(path, $0) }) {
            throw FileSystemError.invalidArgument(
                "brick path \(path) overlaps the system directory \(system); use --force if that is really meant")
        }
    }

    /// Whether one normalised path is the other or lies beneath it.
    public static func pathsOverlap(_ first: String, _ second: String) -> Bool {
        first == second || first.hasPrefix(second + "/") || second.hasPrefix(first + "/")
    }

    func checkHostIsKnown(_ host: String) throws(FileSystemError) {
        guard !host.isEmpty else {
            throw FileSystemError.invalidArgument("brick with an empty host name")
        }
        guard isLocal(host) || peer(host: host) != nil else {
            throw FileSystemError.notFound(
                "\(host) is not a peer of this cluster; run `mortar peer probe \(host)`")
        }
    }

    /// Refuses a brick that is, contains or lies inside a brick of an existing volume or an earlier brick of the
    /// volume being created, on the same host.
    func checkNoConflict(_ candidate: BrickLocation, newBricks: [Brick]) throws(FileSystemError) {
        let key = hostKey(candidate.host)
        for brick in newBricks where hostKey(brick.host) == key {
            if brick.path == candidate.path {
                throw FileSystemError.invalidArgument("brick \(candidate) is given twice")
            }
            if Self.pathsOverlap(brick.path, candidate.path) {
                throw FileSystemError.invalidArgument(
                    "brick \(candidate) and brick \(brick.host):\(brick.path) are nested inside one another")
            }
        }
        for volume in volumes {
            for brick in volume.bricks where hostKey(brick.host) == key {
                if brick.path == candidate.path {
                    throw FileSystemError(
                        .exists, "brick \(candidate) is already part of volume \(volume.name)")
                }
                if Self.pathsOverlap(brick.path, candidate.path) {
                    throw FileSystemError(
                        .exists,
                        "brick \(candidate) and brick \(brick.host):\(brick.path) of volume \(volume.name) "
                            + "are nested inside one another")
                }
            }
        }
    }

    /// The lowest port from ``brickPortMin`` that no brick on the host uses; a deleted volume's ports come back.
    func allocatePort(host: String, newBricks: [Brick]) throws(FileSystemError) -> Int {
        let key = hostKey(host)
        var used = Set<Int>()
        for brick in newBricks where hostKey(brick.host) == key { used.insert(brick.port) }
        for volume in volumes {
            for brick in volume.bricks where hostKey(brick.host) == key { used.insert(brick.port) }
        }
        var port = brickPortMin
        while used.contains(port) { port += 1 }
        guard port <= 65535 else {
            throw FileSystemError(.noSpace, "no free brick port left on \(host) from \(brickPortMin) to 65535")
        }
        return port
    }
}
