import Glibc
import Logging
import MortarCore
import MortarManagementAPI
import MortarMeter
import MortarSecurity
import MortarVolumeGraph
import MortarVolumeSpec
import NIOCore
import NIOPosix
import Synchronization

/// A management daemon that serves volume specs: `HOST[:PORT]`, port 24007 by default.
public struct ServerAddress: Sendable, Hashable, CustomStringConvertible {
    public static let defaultPort = 24007
    public var host: String
    public var port: Int

    public init(host: String, port: Int = ServerAddress.defaultPort) {
        self.host = host
        self.port = port == 0 ? Self.defaultPort : port
    }

    /// Parses `HOST`, `HOST:PORT` or `[IPv6]:PORT`.
    public init(parsing text: String) throws {
        var host = Substring(text)
        var port = Self.defaultPort
        if host.hasPrefix("["), let close = host.firstIndex(of: "]") {
            let rest = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            if rest.hasPrefix(":") { port = try Self.port(rest.dropFirst(), in: text) }
        } else if let colon = host.lastIndex(of: ":"), host.filter({ $0 == ":" }).count == 1 {
            port = try Self.port(host[host.index(after: colon)...], in: text)
            host = host[..<colon]
        }
        guard !host.isEmpty else { throw FileSystemError.invalidArgument("no host in server address '\(text)'") }
        self.init(host: String(host), port: port)
    }

    private static func port(_ text: Substring, in whole: String) throws -> Int {
        guard let port = Int(text), (0...65535).contains(port) else {
            throw FileSystemError.invalidArgument("invalid port in server address '\(whole)'")
        }
        return port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

extension Volume {
    /// Connects to a volume: fetches its spec from the first of `servers` that answers, builds the layer stack,
    /// and checks that the volume's root is reachable. Fails with ENOENT for a volume that does not exist,
    /// ENOTCONN for one that is not started, ECONNREFUSED when no server answers, EACCES when the cluster refuses
    /// this client (its certificate, its address).
    ///
    /// - Parameter tlsDirectory: the directory holding this client's `glusterfs.pem`, `glusterfs.key` and
    ///   `glusterfs.ca`; nil looks in `$MORTAR_TLS_DIR`, `~/.config/mortar/tls`, `/etc/ssl` and `/usr/lib/ssl`, and connects
    ///   without TLS when none has them; `"off"` never uses TLS.
    /// - Parameter metrics: where to count this client's requests (``ClientMetrics``, from `MortarMeter`): every
    ///   operation that leaves the library's caches, by operation, with its latency, errors and bytes. Nil counts
    ///   nothing and costs nothing.
    public static func connect(
        volume: String, servers: [ServerAddress] = [ServerAddress(host: "127.0.0.1")], tlsDirectory: String? = nil,
        logger: Logger? = nil, eventLoopGroup: (any EventLoopGroup)? = nil, metrics: ClientMetrics? = nil
    ) async throws -> Volume {
        guard !servers.isEmpty else { throw FileSystemError.invalidArgument("no volume spec server given") }
        let logger = logger ?? Logger(label: "mortar.client")
        let group = eventLoopGroup ?? MultiThreadedEventLoopGroup.singleton
        let security = try TransportSecurity.client(explicitDirectory: tlsDirectory)
        let spec = try await ManagementClient.fetchVolumeSpec(
            volume: volume, servers: servers.map { (host: $0.host, port: $0.port) }, security: security,
            eventLoopGroup: group)
        let membership = try await Self.membership(
            of: spec, servers: servers, security: security, eventLoopGroup: group)
        let graph = try VolumeGraph.build(
            spec, clientName: "mortar-client/\(getpid())", security: security, eventLoopGroup: group, logger: logger,
            membership: membership)
        membership?.watchSpec { newer in graph.follow(newer) }
        let connected = Volume(
            stack: metrics.map { MeterLayer(next: graph.root, metrics: $0) } ?? graph.root, name: spec.name, volumeID: spec.volumeID, logger: logger,
            onClose: { graph.shutdown() })
        // Once the stack grew, walk paths afresh: a lookup by name makes a directory on the new bricks, so that
        // new files in it go there rather than where the previous layout put them.
        let refresher = SpecRefresher(
            volume: volume, membership: membership, logger: logger,
            grown: { [weak connected] in connected?.forgetDirectoryEntries() },
            fetch: {
                try await ManagementClient.fetchVolumeSpec(
                    volume: volume, servers: servers.map { (host: $0.host, port: $0.port) }, security: security,
                    eventLoopGroup: group)
            })
        graph.whenStale { await refresher.refresh(graph) }
        connected.readsAhead = spec.client.readAhead
        connected.writesBehind = spec.client.writeBehind
        do {
            _ = try await connected.attributes("/")
        } catch {
            await connected.close()
            throw error
        }
        return connected
    }

    /// The replica-set views of a replicated volume, nil for other volumes. They are fetched, and later followed
    /// through a failover, from the first of `servers` that can be reached: with the catalog on etcd each daemon
    /// serves every view, so a client given several daemons follows a failover that took one of them away.
    static func membership(
        of spec: VolumeSpec, servers: [ServerAddress], security: TransportSecurity, eventLoopGroup: any EventLoopGroup
    ) async throws -> ManagedMembership? {
        guard spec.graph.isReplicated else { return nil }
        let client = ManagementClient(
            servers: servers.map { ManagementClient.Address(host: $0.host, port: $0.port) }, security: security,
            eventLoopGroup: eventLoopGroup)
        return try await ManagedMembership.fetch(spec: spec, client: client)
    }
}

/// Fetches a volume's newest spec for its client stack (see `VolumeGraph.follow`) when the stack is about to place
/// a new name, finds a name on no brick it knows, or starts a listing — another client may have grown the volume:
/// at most once per `Limits.specRefreshMilliseconds`; callers at the same time share one request.
final class SpecRefresher: Sendable {
    private let volume: String
    /// A replicated volume's views: the sets a grown spec adds are fetched into it before the stack grows.
    private let membership: ManagedMembership?
    private let logger: Logger
    private let fetch: @Sendable () async throws -> VolumeSpec
    /// When the spec was last fetched: the stack was just built from one, so the first question waits an interval.
    private let lastAsked = Mutex(ContinuousClock.now)
    private let flights = SingleFlight<Int, Void>()
    /// Called after the stack grew.
    private let grown: @Sendable () -> Void

    init(
        volume: String, membership: ManagedMembership?, logger: Logger, grown: @escaping @Sendable () -> Void,
        fetch: @escaping @Sendable () async throws -> VolumeSpec
    ) {
        self.volume = volume
        self.membership = membership
        self.logger = logger
        self.grown = grown
        self.fetch = fetch
    }

    /// Whether the interval since the last question has passed; with `claim`, starts a new one if so.
    private func isDue(claim: Bool) -> Bool {
        let now = ContinuousClock.now
        return lastAsked.withLock { last in
            guard now - last >= .milliseconds(Limits.specRefreshMilliseconds) else { return false }
            if claim { last = now }
            return true
        }
    }

    func refresh(_ graph: VolumeGraph) async {
        // Most calls (every new name a client makes) fall inside the interval and cost this one lock.
        guard isDue(claim: false) else { return }
        do {
            try await flights.run(0) {
                guard isDue(claim: true) else { return }
                let spec = try await fetch()
                try await membership?.grow(to: spec)
                if graph.follow(spec) { grown() }
            }
        } catch {
            // The manager unreachable, or this caller cancelled: the stack keeps what it knows, and the caller's
            // lookup answers from that (ENOENT); the next miss after the interval asks again.
            logger.debug("could not refresh the spec of volume \(volume): \(error)")
        }
    }
}
