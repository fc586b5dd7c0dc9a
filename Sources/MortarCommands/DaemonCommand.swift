import ArgumentParser
import Foundation
import Logging
import MortarCore
import MortarDaemon
import MortarEtcd
import MortarManagementAPI
import MortarSecurity
import NIOPosix
import ServiceLifecycle
import UnixSignals

/// `mortar daemon`: the per-host management daemon, in the foreground until SIGTERM or SIGINT.
struct DaemonCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "daemon", abstract: "Run the management daemon of this host.")

    @Option(help: "Directory for the catalog, this host's brick assignments and brick logs.")
    var stateDir: String = "/var/lib/mortar"

    @Option(help: "Address to listen on, HOST:PORT (default loopback only: give this host's storage-network address for a cluster of several hosts; its bricks listen there too).")
    var listen: String = "127.0.0.1:24007"

    @Option(help: "The name other hosts and clients use for this host (default: the listen host, or the host name).")
    var advertise: String?

    @Option(help: "Write the daemon's process id to this file.")
    var pidFile: String?

    @Option(parsing: .upToNextOption, help: ArgumentHelp("Command that runs a brick (tests only).", visibility: .hidden))
    var brickCommand: [String] = []

    @Option(help: "Lowest TCP port handed to this cluster's bricks (the catalog's first allocation).")
    var brickPortMin: Int = 49152

    @Option(help: "Directory with this host's certificate: glusterfs.pem, glusterfs.key, glusterfs.ca (default: STATE-DIR/tls). See `mortar cert`.")
    var tlsDir: String?

    @Option(help: "etcd client URLs, comma-separated (https://HOST:PORT,… or http://…): the cluster's catalog and replica sets live there, shared by every daemon, and any daemon can manage. https:// members are reached with this host's etcd certificate (etcd.pem, etcd.key, etcd-ca.pem in the TLS directory). Without it this daemon keeps the catalog in STATE-DIR and manages alone.")
    var etcd: String?

    @Option(help: "Serve Prometheus metrics of the daemon and this host's bricks at http://HOST:PORT/metrics (plain HTTP; off unless given). `mortar up` uses 127.0.0.1:24010.")
    var metricsListen: String?

    @Flag(help: "Run without TLS: anyone who reaches the management and brick ports may do anything. For a closed test network only.")
    var insecure = false

    @Flag(help: ArgumentHelp("Start a new session, detached from the terminal.", visibility: .hidden))
    var newSession = false

    func run() async throws {
        try await reportingFailure {
            if newSession { _ = setsid() }
            LogLines.bootstrap()
            var logger = Logger(label: "mortar.daemon")
            logger.logLevel = LogLines.level(default: .info)
            let address = try ManagementClient.parseAddress(listen)
            let stateDirectory = absolutePath(stateDir)
            let tlsDirectory = absolutePath(tlsDir ?? stateDirectory + "/tls")
            if !insecure, !FileManager.default.fileExists(atPath: tlsDirectory + "/" + TLSFiles.certificate) {
                throw FileSystemError(
                    .notFound,
                    "no host certificate in \(tlsDirectory): on the first host run `mortar cert init` and `mortar cert issue NAME --role host --out \(tlsDirectory)`; on the others copy in one issued there; or run with --insecure")
            }
            let etcdEndpoints = try etcd.map(EtcdEndpoint.parseList)
            if let etcdEndpoints {
                try Self.checkEtcd(etcdEndpoints, insecure: insecure, tlsDirectory: tlsDirectory, logger: logger)
            }
            let metricsAddress = try metricsListen.map { text in
                do { return try ManagementClient.parseAddress(text) } catch {
                    throw ValidationError("--metrics-listen takes HOST:PORT, got '\(text)'")
                }
            }
            var configuration = DaemonConfiguration(
                listenHost: address.host, listenPort: address.port, stateDirectory: stateDirectory,
                advertisedHost: advertise, brickCommand: brickCommand.isEmpty ? nil : brickCommand,
                brickPortMin: brickPortMin, tlsDirectory: insecure ? nil : tlsDirectory,
                etcdEndpoints: etcdEndpoints)
            configuration.metricsListen = metricsAddress.map { (host: $0.host, port: $0.port) }
            if let pidFile {
                try Data("\(getpid())\n".utf8).write(to: URL(fileURLWithPath: pidFile), options: .atomic)
            }
            // Cleanup at exit: a stale pid file is checked against the running process anyway.
            defer { if let pidFile { try? FileManager.default.removeItem(atPath: pidFile) } }
            let group = ServiceGroup(configuration: ServiceGroupConfiguration(
                services: [
                    DaemonService(
                        configuration: configuration, logger: logger,
                        rebalancer: VolumeRebalancer(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: logger))
                ],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            try await group.run()
        }
    }
}

extension DaemonCommand {
    /// Refuses an etcd setup that cannot work (TLS members and no certificate to show them, a host certificate
    /// etcd would refuse) at start, with the reason, rather than at the first catalog read; warns when the catalog
    /// would cross a network in the clear.
    static func checkEtcd(
        _ endpoints: [EtcdEndpoint], insecure: Bool, tlsDirectory: String, logger: Logger
    ) throws(FileSystemError) {
        guard endpoints.contains(where: \.secure) else {
            let remote = endpoints.filter { !isLoopback($0.host) }
            if !insecure, !remote.isEmpty {
                logger.warning(
                    "etcd at \(remote.map(\.description).joined(separator: ", ")) is reached without TLS: the catalog crosses the network in the clear and whoever reaches etcd can rewrite it; run etcd with the host certificates and give https:// URLs (README: Protect etcd)")
            }
            return
        }
        guard !insecure else {
            throw FileSystemError.invalidArgument(
                "--insecure has no certificate to present to etcd at https:// URLs; give http:// URLs, or run with TLS")
        }
        let names = TLSFiles.Names.etcd
        guard FileManager.default.fileExists(atPath: tlsDirectory + "/" + names.certificate) else {
            throw FileSystemError(
                .notFound,
                "no \(names.certificate) in \(tlsDirectory): etcd at https:// URLs admits only certificates of the cluster's etcd CA, which `mortar cert issue NAME --role host` writes beside the host certificate; a host certificate issued before that has none: issue it again with `--san ADDRESS --out \(tlsDirectory) --replace`")
        }
    }

    private static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }
}

/// `path` made absolute against the current directory, so a daemon's state does not move with its cwd.
func absolutePath(_ path: String) -> String {
    if path.hasPrefix("/") { return path }
    return FileManager.default.currentDirectoryPath + "/" + path
}
