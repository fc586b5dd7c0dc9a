import ArgumentParser
import Foundation
import MortarCore
import MortarDaemon
import MortarEtcd
import MortarManagementAPI
import MortarSecurity

/// `mortar up`: a one-host demo cluster — a one-member etcd holding the catalog, a background daemon and a started
/// volume `demo` over N local bricks.
struct UpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up", abstract: "Start a local daemon and a demo volume over local brick directories.")

    @Option(help: "Directory holding the daemon's state, log and the bricks.") var dir: String = "./mortar-cluster"
    @Option(help: "Number of bricks of the demo volume.") var bricks: Int = 3
    @Flag(inversion: .prefixedNo, help: "Serve metrics at http://127.0.0.1:24010/metrics (bricks count what they serve).")
    var metrics = true

    static let volumeName = "demo"

    /// The local daemon, reached with the credentials `mortar up` gave this user.
    static func client() throws -> ManagementClient {
        ManagementClient(
            host: "127.0.0.1", port: ManagementClient.defaultPort,
            security: try TransportSecurity.client(explicitDirectory: nil))
    }

    func run() async throws {
        try await reportingFailure {
            guard (1...Limits.bricksPerVolumeMax).contains(bricks) else {
                throw FileSystemError.invalidArgument("--bricks must be between 1 and \(Limits.bricksPerVolumeMax)")
            }
            let root = absolutePath(dir)
            try FileManager.default.createDirectory(atPath: root + "/state", withIntermediateDirectories: true)
            try LocalCredentials.ensure(root: root)
            try await EmbeddedEtcd(root: root).ensureRunning()
            // A probe: no answer means no daemon (yet).
            if (try? await Self.client().hello()) != nil {
                print("A mortar daemon already answers on 127.0.0.1:\(ManagementClient.defaultPort); using it.")
            } else {
                try startDaemon(root: root)
                try await waitForDaemon(root: root)
                print("Started the mortar daemon (state in \(root)/state, log in \(root)/daemon.log).")
            }
            let paths = try (1...bricks).map { number in
                let path = "\(root)/bricks/brick\(number)"
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
                return path
            }
            try await ensureVolume(paths)
            printUsage(root: root)
        }
    }

    private func startDaemon(root: String) throws {
        _ = try startInBackground(
            DaemonConfiguration.runningExecutablePath(),
            [
                "daemon", "--state-dir", root + "/state", "--listen", "127.0.0.1:\(ManagementClient.defaultPort)",
                "--pid-file", root + "/daemon.pid", "--new-session", "--etcd", EmbeddedEtcd(root: root).member.clientURL,
            ] + (metrics ? ["--metrics-listen", Self.metricsAddress] : []),
            log: root + "/daemon.log")
    }

    /// Polls the daemon's hello until it answers, within a bounded time.
    private func waitForDaemon(root: String) async throws {
        let deadline = ContinuousClock.now + .seconds(15)
        while ContinuousClock.now < deadline {
            // A probe: no answer means no daemon (yet).
            if (try? await Self.client().hello()) != nil { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw FileSystemError(.timedOut, "the daemon did not answer within 15 seconds; see \(root)/daemon.log")
    }

    private func ensureVolume(_ paths: [String]) async throws {
        let name = Self.volumeName
        let volume: VolumeInfo
        do {
            volume = try await Self.client().volumeInfo(name: name)
            print("Volume \(name) already exists with \(volume.bricks.count) bricks.")
        } catch let error as FileSystemError where error.code == .notFound {
            volume = try await Self.client().createVolume(name: name, bricks: paths.map { "127.0.0.1:\($0)" })
            print("Created volume \(name) over \(paths.count) bricks: \(paths.joined(separator: ", ")).")
        }
        if volume.state != "started" {
            _ = try await Self.client().startVolume(name: name)
            print("Started volume \(name).")
        } else {
            print("Volume \(name) is already started.")
        }
    }

    /// Where the daemon `mortar up` starts serves its and its bricks' metrics.
    static let metricsAddress = "127.0.0.1:24010"

    private func printUsage(root: String) {
        print("""

            Try:
              mortar volume status \(Self.volumeName)
              mortar volume info \(Self.volumeName)
              mortar health\(metrics ? "\n  curl http://\(Self.metricsAddress)/metrics" : "")
            Stop everything with:
              mortar down --dir \(dir)
            """)
    }
}

/// `mortar down`: stops the volumes, the daemon, the bricks and the etcd that `mortar up` started.
struct DownCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "down", abstract: "Stop the volumes, the daemon, the bricks and the etcd started by `mortar up`.")

    @Option(help: "The directory given to `mortar up`.") var dir: String = "./mortar-cluster"

    func run() async throws {
        try await reportingFailure {
            let root = absolutePath(dir)
            let pidPath = root + "/daemon.pid"
            // A daemon that does not answer has no volumes to stop first; the pid file below still stops it.
            if let volumes = try? await UpCommand.client().volumes() {
                for volume in volumes where volume.state == "started" {
                    _ = try await UpCommand.client().stopVolume(name: volume.name)
                    print("Stopped volume \(volume.name).")
                }
            }
            let daemon = try await stopProcess(pidPath: pidPath, name: "mortar daemon")
            // Bricks outlive their daemon: any the daemon did not stop (it was not answering, or was gone) go now.
            let bricks = await ProcessTable.stopBricks(servingUnder: root + "/bricks")
            if !bricks.isEmpty {
                print("Stopped \(bricks.count) brick process(es) left running: \(bricks.map(String.init).joined(separator: ", ")).")
            }
            // Last: the catalog's store, which the daemon needed until it stopped.
            let etcd = try await EmbeddedEtcd(root: root).stop()
            guard daemon != nil || !bricks.isEmpty || etcd != nil else {
                throw FileSystemError.notFound("no daemon pid file at \(pidPath) and no bricks running; is the cluster up?")
            }
        }
    }
}

/// The credentials of a `mortar up` cluster: its CA in `DIR/ca`, the host's certificate in `DIR/state/tls` (where
/// the daemon looks by default), and an admin certificate in the user's configuration directory
/// (`~/.config/mortar/tls`), where the CLI, the library and the drop-in look without being told.
enum LocalCredentials {
    static func ensure(root: String) throws {
        let authorityDirectory = root + "/ca"
        let ca: CertificateAuthority
        if FileManager.default.fileExists(atPath: authorityDirectory + "/ca.key") {
            ca = try CertificateAuthority.open(directory: authorityDirectory)
        } else {
            ca = try CertificateAuthority.create(directory: authorityDirectory, name: "mortar-up-ca")
            print("Created the cluster CA in \(authorityDirectory).")
        }
        let hostDirectory = root + "/state/tls"
        // A host of an older `mortar up` lacks the etcd credentials its etcd now requires: issue it again.
        let complete = [TLSFiles.certificate, TLSFiles.Names.etcd.certificate].allSatisfy { name in
            FileManager.default.fileExists(atPath: hostDirectory + "/" + name)
        }
        if !complete {
            try ca.issue(
                name: "localhost", role: .host, output: hostDirectory, alternativeNames: ["127.0.0.1", "::1"],
                replace: true)
        }
        guard let userDirectory = TLSFiles.userDirectory() else {
            throw FileSystemError.invalidArgument("HOME is not set: nowhere to put the admin certificate")
        }
        let authority = try ca.authorityPEM()
        let current = try? String(contentsOfFile: userDirectory + "/" + TLSFiles.authority, encoding: .utf8)
        guard current != authority else { return }
        try ca.issue(name: "admin", role: .admin, output: userDirectory, replace: true)
        print(current == nil
            ? "Issued an admin certificate into \(userDirectory)."
            : "Replaced the admin certificate in \(userDirectory) (it was of another cluster's CA).")
    }
}
