import Foundation
import MortarCore
import MortarTesting
import Testing

/// A volume of real bricks under a real daemon, mounted with `mortar mount -f` at a temporary directory, plus a
/// local directory to compare against. Tests that use it run serialized: each mount is a FUSE file system of the
/// whole machine.
final class MountedVolume: @unchecked Sendable {
    let cluster: ProcessCluster
    let volume: String
    let mountPoint: String
    /// A directory on the local disk for comparisons and scratch files.
    let local: String
    private(set) var mountProcess: Subprocess?

    var source: String { "127.0.0.1:\(cluster.daemonPort):/\(volume)" }

    private init(cluster: ProcessCluster, volume: String) {
        self.cluster = cluster
        self.volume = volume
        mountPoint = cluster.directory + "/mnt"
        local = cluster.directory + "/local"
    }

    /// Starts a daemon and a volume of `bricks` bricks, and mounts it.
    static func start(bricks: Int = 2, options: [String] = []) async throws -> MountedVolume {
        let cluster = try ProcessCluster()
        let mounted = MountedVolume(cluster: cluster, volume: "fuse")
        do {
            try await cluster.startDaemon()
            let brickArguments = try (0..<bricks).map { "127.0.0.1:" + (try cluster.makeBrickDirectory("b\($0)")) }
            try await cluster.expectSuccess(["volume", "create", mounted.volume] + brickArguments)
            try await cluster.expectSuccess("volume", "start", mounted.volume)
            try await waitUntil("the bricks are online", seconds: 60) {
                try await cluster.brickProcesses(mounted.volume).allSatisfy(\.online)
            }
            for directory in [mounted.mountPoint, mounted.local] {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            }
            // mkdtemp made the cluster directory 0700; the permission checks run as an unprivileged user, who must
            // reach both the mount and the local directory, or every check is EACCES on both sides.
            guard chmod(cluster.directory, 0o755) == 0 else {
                throw FileSystemError.fromErrno("chmod", cluster.directory)
            }
            try await mounted.mount(options: options)
        } catch {
            await mounted.tearDown()
            throw error
        }
        return mounted
    }

    /// Runs `body` with a mounted volume and always tears it down.
    static func with(
        bricks: Int = 2, options: [String] = [], _ body: (MountedVolume) async throws -> Void
    ) async throws {
        let mounted = try await start(bricks: bricks, options: options)
        do {
            try await body(mounted)
        } catch {
            await mounted.tearDown()
            throw error
        }
        await mounted.tearDown()
    }

    func mount(options: [String] = []) async throws {
        let process = try Subprocess.start(
            ProcessCluster.binary, ["mount", "-f"] + options.flatMap { ["-o", $0] } + [source, mountPoint],
            environment: cluster.clientEnvironment, output: .file(try logPath()))
        mountProcess = process
        try await waitUntil("\(mountPoint) is mounted", seconds: 60) {
            guard process.isRunning else {
                throw FileSystemError(.inputOutput, "mortar mount exited: \(self.mountLog())")
            }
            return Self.isMounted(self.mountPoint)
        }
    }

    /// Unmounts with `mortar umount` and waits for the mount process to exit.
    func unmount() async throws {
        guard let process = mountProcess else { return }
        if Self.isMounted(mountPoint) { try await cluster.expectSuccess("umount", mountPoint) }
        try await waitUntil("the mount process exits after the unmount", seconds: 60) { !process.isRunning }
        mountProcess = nil
    }

    func tearDown() async {
        if let process = mountProcess {
            if Self.isMounted(mountPoint) { _ = try? await cluster.run("umount", "-l", mountPoint) }
            try? await waitUntil("the mount process exits", seconds: 60) { !process.isRunning }
            if process.isRunning { process.terminate() }
        }
        await cluster.tearDown()
    }

    func mountLog() -> String {
        (try? String(contentsOfFile: cluster.directory + "/mount.log", encoding: .utf8)) ?? ""
    }

    private func logPath() throws -> String {
        let path = cluster.directory + "/mount.log"
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        return path
    }

    static func isMounted(_ path: String) -> Bool {
        guard let table = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return false }
        return table.split(separator: "\n").contains { line in
            let fields = line.split(separator: " ")
            return fields.count > 4 && fields[4] == path && line.contains(" - fuse.mortar ")
        }
    }

    /// Runs a program (not `mortar`) and returns its status and combined output; the wait happens on a thread of
    /// its own (``runBlocking(_:)``).
    static func runProgram(_ executable: String, _ arguments: [String], environment: [String: String] = [:])
        async throws -> CommandResult
    {
        try await runBlocking { try runProgramWaiting(executable, arguments, environment: environment) }
    }

    /// ``runProgram(_:_:environment:)`` waiting on the caller's thread (for synchronous set-up and clean-up).
    static func runProgramWaiting(_ executable: String, _ arguments: [String], environment: [String: String])
        throws -> CommandResult
    {
        let (status, output, _) = try Subprocess.run(
            executable, arguments, environment: ProcessInfo.processInfo.environment.merging(environment) { $1 },
            errorsToOutput: true)
        return CommandResult(status: status, output: output, error: "")
    }

    /// `tests/fuse/NAME` in the repository.
    static func script(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("tests/fuse/" + name).path
    }
}
