import Foundation
import Logging
import MortarCatalog
import MortarCore
import MortarManagementAPI
import NIOCore
import NIOPosix

/// What this host remembers across restarts: its identity and the bricks the manager asked it to run.
struct HostState: Codable, Sendable {
    var daemonID: String
    var bricks: [AgentBrick]
}

/// The host-agent half of a daemon: checks brick directories, runs the bricks the manager assigns to this host
/// (remembering them in `host.json`, so they come back after a restart) and reports their status.
actor HostAgent {
    nonisolated let daemonID: String
    private let store: StateFile<HostState>
    private var bricks: [AgentBrick]
    let supervisor: BrickSupervisor
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger
    /// The daemon's state directory, resolved (no symbolic links): no brick may overlap it.
    private let stateDirectory: String
    /// Where this host's bricks answer (they listen on the daemon's address): loopback for a wildcard.
    private let probeHost: String

    init(configuration: DaemonConfiguration, eventLoopGroup: any EventLoopGroup, logger: Logger)
        throws(FileSystemError)
    {
        store = StateFile(path: configuration.hostStatePath)
        let state = try store.load() ?? HostState(daemonID: UUID().uuidString.lowercased(), bricks: [])
        try store.save(state)
        daemonID = state.daemonID
        bricks = state.bricks
        try AtomicFile.makeDirectory(configuration.brickLogDirectory)
        stateDirectory = try Self.resolved(configuration.stateDirectory)
        probeHost = configuration.localHost
        supervisor = BrickSupervisor(
            brickCommand: configuration.brickCommand, listenHost: configuration.listenHost,
            probeHost: configuration.localHost, logDirectory: configuration.brickLogDirectory,
            tlsDirectory: configuration.tlsDirectory, countsMetrics: configuration.metricsListen != nil,
            eventLoopGroup: eventLoopGroup, logger: logger)
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
    }

    /// Starts (or adopts, when they still run) every brick this host was running before the daemon restarted.
    func resume() async {
        for brick in bricks { await supervisor.start(brick) }
    }

    /// Refuses paths that are missing (unless `force` creates them), not directories, reached through a symbolic
    /// link (the catalog compares paths as strings, so every path in it must be the directory's only name), in or
    /// around a system directory (unless `force`) or the daemon's state, or nested in or around a brick this host
    /// already runs for another volume.
    func check(_ request: AgentCheckRequest) async throws(FileSystemError) {
        for path in request.paths {
            let normalized = try Catalog.normalizedBrickPath(BrickLocation(host: "", path: path))
            try Catalog.checkPlacement(normalized, stateDirectory: stateDirectory, force: request.force)
            if let other = bricks.first(where: { Catalog.pathsOverlap($0.path, normalized) }) {
                throw FileSystemError(
                    .exists, "brick path \(normalized) overlaps brick \(other.path) of volume \(other.volume) on this host")
            }
            try await Self.checkDirectory(normalized, create: request.force)
        }
    }

    private static func checkDirectory(_ path: String, create: Bool) async throws(FileSystemError) {
        try await onThreadPool {
            var isDirectory: ObjCBool = false
            if !FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
                guard create else {
                    throw FileSystemError.notFound(
                        "brick directory \(path) does not exist; create it or use --force")
                }
                // Checked before anything is made: a link on the way would have the directories made elsewhere.
                var existing = path
                while !FileManager.default.fileExists(atPath: existing) {
                    existing = String(existing[..<(existing.lastIndex(of: "/") ?? existing.startIndex)])
                    if existing.isEmpty { existing = "/" }
                }
                try requireResolved(existing, brick: path)
                try AtomicFile.makeDirectory(path)
            } else if !isDirectory.boolValue {
                throw FileSystemError(.notDirectory, "brick path \(path) is not a directory")
            }
            try requireResolved(path, brick: path)
        }
    }

    /// Refuses `brick` when `path` (the brick's path or its deepest existing ancestor) is not its own real path.
    private static func requireResolved(_ path: String, brick: String) throws(FileSystemError) {
        let resolved = try resolved(path)
        guard resolved != path else { return }
        let real = resolved + brick.dropFirst(path.count)
        throw FileSystemError.invalidArgument(
            "brick path \(brick) leads through a symbolic link to \(real); give \(real) instead")
    }

    /// `path` with every symbolic link, `.` and `..` resolved (realpath(3)).
    static func resolved(_ path: String) throws(FileSystemError) -> String {
        guard let pointer = realpath(path, nil) else { throw FileSystemError.fromErrno("realpath", path) }
        defer { free(pointer) }
        return String(cString: pointer)
    }

    /// Refuses an assignment whose fields could not have come from the catalog: a volume name outside the catalog's
    /// rules (it names the brick's log file), a path that is not normalised, a port outside 1–65535, or a manager
    /// (or alternate) that is not `HOST:PORT`.
    static func validate(_ brick: AgentBrick) throws(FileSystemError) {
        try Catalog.validateVolumeName(brick.volume)
        let normalized = try Catalog.normalizedBrickPath(BrickLocation(host: "", path: brick.path))
        guard normalized == brick.path else {
            throw FileSystemError.invalidArgument("brick path \(brick.path) is not normalised (\(normalized))")
        }
        guard (1...Limits.portNumberMax).contains(brick.port) else {
            throw FileSystemError.invalidArgument("brick port \(brick.port) is outside 1-\(Limits.portNumberMax)")
        }
        for manager in (brick.manager.map { [$0] } ?? []) + brick.alternateManagers {
            // The last colon separates the port, so a bracketed IPv6 address passes. A leading '-' would make the
            // address an option of the brick's command line.
            let colon = manager.lastIndex(of: ":")
            let host = colon.map { manager[..<$0] } ?? ""
            let port = colon.flatMap { Int(manager[manager.index(after: $0)...]) } ?? 0
            guard !host.isEmpty, !host.hasPrefix("-"), host.utf8.count <= 255, (1...Limits.portNumberMax).contains(port),
                host.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != 0x2F })
            else { throw FileSystemError.invalidArgument("manager address '\(manager)' is not HOST:PORT") }
        }
        guard brick.manager != nil || brick.alternateManagers.isEmpty else {
            throw FileSystemError.invalidArgument("alternate managers without a manager")
        }
    }

    /// Records the bricks and runs them; bricks already running stay as they are.
    func start(_ newBricks: [AgentBrick]) async throws(FileSystemError) {
        for brick in newBricks { try Self.validate(brick) }
        var updated = bricks.filter { old in !newBricks.contains { $0.volume == old.volume && $0.index == old.index } }
        updated.append(contentsOf: newBricks)
        try await persist(updated)
        for brick in newBricks { await supervisor.start(brick) }
    }

    /// Forgets the bricks and stops their processes.
    func stop(_ oldBricks: [AgentBrick]) async throws(FileSystemError) {
        for brick in oldBricks { try Self.validate(brick) }
        let updated = bricks.filter { kept in !oldBricks.contains { $0.volume == kept.volume && $0.index == kept.index } }
        try await persist(updated)
        for brick in oldBricks {
            await supervisor.stop(BrickSupervisor.Key(volume: brick.volume, index: brick.index))
        }
    }

    private func persist(_ updated: [AgentBrick]) async throws(FileSystemError) {
        let state = HostState(daemonID: daemonID, bricks: updated)
        let store = self.store
        try await onThreadPool { try store.save(state) }
        bricks = updated
    }

    /// Every brick this host runs, with its process and whether its port accepts a connection.
    func status(host: String) async -> [BrickStatus] {
        var result: [BrickStatus] = []
        for brick in bricks {
            let pid = await supervisor.pid(of: BrickSupervisor.Key(volume: brick.volume, index: brick.index))
            let online = pid != nil ? await Self.accepts(host: probeHost, port: brick.port, group: eventLoopGroup) : false
            result.append(BrickStatus(volume: brick.volume, host: host, path: brick.path, port: brick.port,
                                      index: brick.index, pid: pid, online: online))
        }
        return result
    }

    /// Whether something listens on `port` of this host.
    static func accepts(host: String, port: Int, group: any EventLoopGroup) async -> Bool {
        do {
            let bootstrap = ClientBootstrap(group: group)
                .connectTimeout(.milliseconds(Limits.connectTimeoutMilliseconds))
            // An address literal skips the resolver; a host name (a daemon told to listen on one) needs it.
            let channel = if let address = try? SocketAddress(ipAddress: host, port: port) {
                try await bootstrap.connect(to: address).get()
            } else {
                try await bootstrap.connect(host: host, port: port).get()
            }
            // Cleanup: the connection is being dropped.
            try? await channel.close()
            return true
        } catch {
            return false
        }
    }
}
