import Foundation
import Mortar
import MortarCore
import MortarManagementAPI
import MortarMembership
import Testing

/// A replicated volume under a real daemon, with the helpers the replication fault tests share: the set's view,
/// the brick processes, waiting for every member to be in sync, and comparing the brick directories.
struct ReplicatedCluster: Sendable {
    let cluster: ProcessCluster
    let volume: String
    let brickDirectories: [String]

    /// Starts a daemon and a `replica` volume over `replica × sets` brick directories on this host (`--force`:
    /// one host), and waits until its bricks are online and every member is in sync.
    static func start(
        cluster given: ProcessCluster? = nil, volume: String = "rep", replica: Int = 3, sets: Int = 1,
        directories: [String]? = nil
    ) async throws -> ReplicatedCluster {
        let cluster = try given ?? ProcessCluster()
        do {
            try await cluster.startDaemon()
            let bricks = try directories ?? (0..<(replica * sets)).map { try cluster.makeBrickDirectory("b\($0)") }
            try await cluster.expectSuccess(
                ["volume", "create", volume, "replica", "\(replica)"] + bricks.map { "127.0.0.1:" + $0 } + ["--force"])
            try await cluster.expectSuccess("volume", "start", volume)
            let replicated = ReplicatedCluster(cluster: cluster, volume: volume, brickDirectories: bricks)
            try await replicated.waitUntilInSync()
            return replicated
        } catch {
            // A cluster that never came up must not outlive the test holding its ports and processes.
            await cluster.tearDown()
            throw error
        }
    }

    var server: ServerAddress { ServerAddress(host: "127.0.0.1", port: cluster.daemonPort) }

    func connect() async throws -> Volume {
        try await cluster.connect(volume)
    }

    func status() async throws -> VolumeStatus {
        let result = try await cluster.run("volume", "status", volume, "--json")
        guard result.succeeded else { throw FileSystemError(.inputOutput, "volume status failed: \(result.error)") }
        return try JSONDecoder().decode(VolumeStatus.self, from: Data(result.output.utf8))
    }

    /// Waits until every brick is online and every member of every set is in sync.
    func waitUntilInSync(seconds: Double = 60) async throws {
        try await waitUntil("every member of \(volume) is online and in sync", seconds: seconds) {
            let status = try await status()
            return status.bricks.allSatisfy(\.online)
                && status.replicaSets.allSatisfy { $0.members.allSatisfy { $0 == .inSync } }
        }
    }

    /// Waits until every member of every set is in sync, whatever the daemons say of the brick processes (a
    /// brick whose daemon is gone serves on, but no daemon reports its process).
    func waitUntilMembersInSync(seconds: Double = 60) async throws {
        try await waitUntil("every member of \(volume) is in sync", seconds: seconds) {
            try await status().replicaSets.allSatisfy { $0.members.allSatisfy { $0 == .inSync } }
        }
    }

    /// Waits until no brick holds a change of its own whose outcome it has not settled (heal info's "applied
    /// here, not yet settled"): a member that stops before then has those files copied whole when it returns.
    func waitUntilSettled(seconds: Double = 30) async throws {
        try await waitUntil("every member of \(volume) has settled the changes it applied", seconds: seconds) {
            try await healInfo().allSatisfy { brick in
                brick.reachable && !brick.pending.contains { $0.member == brick.member && $0.files + $0.directories > 0 }
            }
        }
    }

    func healInfo() async throws -> [BrickHealInfo] {
        let result = try await cluster.run("volume", "heal", volume, "info", "--json")
        guard result.succeeded else { throw FileSystemError(.inputOutput, "heal info failed: \(result.error)") }
        return try JSONDecoder().decode([BrickHealInfo].self, from: Data(result.output.utf8))
    }

    /// The member that is primary for the file at `path` (relative to the brick root) in the current view: its
    /// FileID is read from member 0's copy (`trusted.mortar.id`), the primary computed as clients do.
    func primary(of path: String, setIndex: Int = 0) async throws -> Int? {
        let result = try await MountedVolume.runProgram(
            "/usr/bin/getfattr", ["-n", "trusted.mortar.id", "-e", "hex", brickDirectories[0] + "/" + path])
        let line = result.output.split(separator: "\n").first { $0.hasPrefix("trusted.mortar.id=0x") }
        guard result.succeeded, let line, let id = FileID(String(line.dropFirst("trusted.mortar.id=0x".count))) else {
            return nil
        }
        return try await status().replicaSets[setIndex].primary(for: id)
    }

    func pid(ofBrick index: Int) async throws -> Int32? {
        try await status().bricks.first { $0.index == index }?.pid
    }

    /// Every path under a brick directory (without `.mortar`) with its type, mode and, for files, size.
    static func tree(of root: String) throws -> [String: String] {
        var result: [String: String] = [:]
        let enumerator = FileManager.default.enumerator(atPath: root)
        while let path = enumerator?.nextObject() as? String {
            if path == ".mortar" || path.hasPrefix(".mortar/") { continue }
            let attributes = try FileManager.default.attributesOfItem(atPath: root + "/" + path)
            let type = (attributes[.type] as? FileAttributeType)?.rawValue ?? "?"
            let mode = (attributes[.posixPermissions] as? Int).map { String($0, radix: 8) } ?? "?"
            let size = attributes[.type] as? FileAttributeType == .typeRegular ? " \(attributes[.size] ?? "?") bytes" : ""
            result[path] = "\(type) \(mode)\(size)"
        }
        return result
    }

    /// Expects every member's brick directory of set `setIndex` to hold exactly what member 0's holds: the same
    /// paths, types, modes and sizes, and byte for byte the same files (compared with cmp(1)).
    /// Waits until every member has settled the changes it applied (a change a member applied without learning
    /// its outcome is reconciled to the primary's version within a heal round or two: reads go to the primary, so
    /// no client sees the difference meanwhile), then checks that the copies are identical.
    func expectConvergedReplicas(
        setIndex: Int = 0, replica: Int = 3, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let started = ContinuousClock.now
        try await waitUntilSettled(seconds: 60)
        print("replicas settled \(ContinuousClock.now - started) after the check began")
        try await expectIdenticalReplicas(setIndex: setIndex, replica: replica, sourceLocation: sourceLocation)
    }

    private func expectIdenticalReplicas(setIndex: Int, replica: Int, sourceLocation: SourceLocation) async throws {
        let directories = Array(brickDirectories[(setIndex * replica)..<((setIndex + 1) * replica)])
        let reference = try Self.tree(of: directories[0])
        #expect(!reference.isEmpty, "brick \(directories[0]) is empty", sourceLocation: sourceLocation)
        for directory in directories.dropFirst() {
            let tree = try Self.tree(of: directory)
            let differing = Set(tree.keys).union(reference.keys).filter { tree[$0] != reference[$0] }.sorted()
            #expect(
                differing.isEmpty,
                "\(directory) differs from \(directories[0]) in \(differing.count) paths: \(differing.prefix(5).map { "\($0): \(tree[$0] ?? "absent") vs \(reference[$0] ?? "absent")" })",
                sourceLocation: sourceLocation)
            for (path, description) in reference where description.hasPrefix("NSFileTypeRegular") {
                let status = try await MountedVolume.runProgram(
                    "/usr/bin/cmp", ["-s", directories[0] + "/" + path, directory + "/" + path]).status
                #expect(status == 0, "\(directory)/\(path) differs from member 0's copy", sourceLocation: sourceLocation)
            }
        }
    }

    func tearDown() async {
        await cluster.tearDown()
    }
}
