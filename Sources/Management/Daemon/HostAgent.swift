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

    init(configuration: DaemonConfiguration, eventLoopGroup: any EventLoopGroup, logger: Logger)
        throws(FileSystemError)
    {
        store = StateFile(path: configuration.hostStatePath)
        let state = try store.load() ?? HostState(daemonID: UUID().uuidString.lowercased(), bricks: [])
        try store.save(state)
        daemonID = state.daemonID
        bricks = state.bricks
        try AtomicFile.makeDirectory(configuration.brickLogDirectory)
        supervisor = BrickSupervisor(
            brickCommand: configuration.brickCommand, logDirectory: configuration.brickLogDirectory, logger: logger)
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
    }

    /// Starts every brick this host was running before the daemon restarted.
    func resume() async {
        for brick in bricks { await supervisor.start(brick) }
    }

    /// Refuses paths that are missing (unless `force` creates them), not directories, or nested in or around a
    /// brick this host already runs for another volume.
    func check(_ request: AgentCheckRequest) async throws(FileSystemError) {
        for path in request.paths {
            let normalized = try Catalog.normalizedBrickPath(BrickLocation(host: "", path: path))
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
                try AtomicFile.makeDirectory(path)
                return
            }
            guard isDirectory.boolValue else {
                throw FileSystemError(.notDirectory, "brick path \(path) is not a directory")
            }
        }
    }

    /// Records the bricks and runs them; bricks already running stay as they are.
    func start(_ newBricks: [AgentBrick]) async throws(FileSystemError) {
        var updated = bricks.filter { old in !newBricks.contains { $0.volume == old.volume && $0.index == old.index } }
        updated.append(contentsOf: newBricks)
        try await persist(updated)
        for brick in newBricks { await supervisor.start(brick) }
    }

    /// Forgets the bricks and stops their processes.
    func stop(_ oldBricks: [AgentBrick]) async throws(FileSystemError) {
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
            let online = pid != nil ? await Self.accepts(port: brick.port, group: eventLoopGroup) : false
            result.append(BrickStatus(volume: brick.volume, host: host, path: brick.path, port: brick.port,
                                      index: brick.index, pid: pid, online: online))
        }
        return result
    }

    /// Whether something listens on `port` of this host.
    static func accepts(port: Int, group: any EventLoopGroup) async -> Bool {
        do {
            let channel = try await ClientBootstrap(group: group)
                .connectTimeout(.milliseconds(Limits.connectTimeoutMilliseconds))
                .connect(to: SocketAddress(ipAddress: "127.0.0.1", port: port)).get()
            // Cleanup: the connection is being dropped.
            try? await channel.close()
            return true
        } catch {
            return false
        }
    }
}
