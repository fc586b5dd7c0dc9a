import Foundation
import MortarCatalog
import MortarCore
import MortarEtcd

/// Everything a daemon needs to know before it starts.
public struct DaemonConfiguration: Sendable {
    /// The address to listen on for the management API; port 0 picks a free port (tests).
    public var listenHost: String
    public var listenPort: Int
    /// Where the catalog, the host's brick assignments and the brick logs live.
    public var stateDirectory: String
    /// The name other hosts and clients use for this host: the manager host of its catalog.
    public var advertisedHost: String
    /// The command that runs a brick, before the brick arguments (`--export PATH --port PORT --volume NAME
    /// --brick-index N …`). By default this executable's own `brick` subcommand; tests point it
    /// at a stand-in.
    public var brickCommand: [String]
    /// The first port a new catalog hands to bricks (an existing catalog keeps its own).
    public var brickPortMin: Int
    /// The directory holding this host's certificate (`glusterfs.pem`, `.key`, `.ca`, of the host role); nil runs
    /// without TLS (`--insecure`): anyone who reaches the ports may do anything.
    public var tlsDirectory: String?
    /// The etcd members holding the cluster's catalog, shared by every daemon (`--etcd`); nil keeps the catalog in
    /// this daemon's state directory, a cluster managed by this daemon alone.
    public var etcdEndpoints: [EtcdEndpoint]?
    /// How long a client may take to send one whole request before its connection is closed.
    public var requestTimeoutMilliseconds: Int64 = Limits.managementRequestReadMilliseconds
    /// Where `GET /metrics` answers for the daemon and its bricks (`--metrics-listen HOST:PORT`; port 0 picks a
    /// free one); nil serves no metrics.
    public var metricsListen: (host: String, port: Int)?

    public init(
        listenHost: String = "127.0.0.1", listenPort: Int = 24007, stateDirectory: String,
        advertisedHost: String? = nil, brickCommand: [String]? = nil, brickPortMin: Int = Catalog.defaultBrickPortMin,
        tlsDirectory: String?, etcdEndpoints: [EtcdEndpoint]? = nil
    ) {
        self.etcdEndpoints = etcdEndpoints
        self.tlsDirectory = tlsDirectory
        self.brickPortMin = brickPortMin
        self.listenHost = listenHost
        self.listenPort = listenPort
        self.stateDirectory = stateDirectory
        self.advertisedHost = advertisedHost ?? Self.defaultAdvertisedHost(listenHost: listenHost)
        self.brickCommand = brickCommand ?? [Self.runningExecutablePath(), "brick"]
    }

    /// The listen address when it names one interface, else the host name.
    static func defaultAdvertisedHost(listenHost: String) -> String {
        isWildcard(listenHost) ? ProcessInfo.processInfo.hostName : listenHost
    }

    /// Where this host's daemon, and its bricks (which listen where it does), answer from this host: the listen
    /// address, or loopback when it listens on every interface.
    var localHost: String { Self.isWildcard(listenHost) ? "127.0.0.1" : listenHost }

    static func isWildcard(_ host: String) -> Bool {
        host.isEmpty || host == "0.0.0.0" || host == "::"
    }

    /// The path of the running executable, so the daemon starts bricks from the same build it runs.
    public static func runningExecutablePath() -> String {
        // No /proc: fall back to the path the process was started with.
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments.first ?? "mortar"
    }

    var catalogPath: String { stateDirectory + "/catalog.json" }
    var hostStatePath: String { stateDirectory + "/host.json" }
    var brickLogDirectory: String { stateDirectory + "/logs/bricks" }
}
