import Foundation
import Logging
import MortarCatalog
import MortarCore
import MortarManagementAPI
import MortarSecurity
import MortarVolumeSpec
import NIOCore

/// The manager half of a daemon: the I/O shell around the pure ``Catalog``. It validates and applies commands
/// one at a time, writes the catalog before answering, and carries out the directives through host agents.
actor Manager {
    private(set) var catalog: Catalog
    private let store: StateFile<Catalog>
    private let localAgent: HostAgent
    let lock = AsyncLock()
    private let eventLoopGroup: any EventLoopGroup
    /// How this daemon reaches other daemons; its revocation list follows the catalog's.
    let security: TransportSecurity
    let logger: Logger
    /// The port this daemon's management API listens on (known once it is bound).
    private(set) var listenPort = 0
    /// Where this daemon answers from its own host (``DaemonConfiguration/localHost``); its own bricks reach it
    /// there.
    private let localHost: String
    /// The software and API version reported by hello.
    static let version = "mortar 0.1 (management API v1)"

    init(configuration: DaemonConfiguration, localAgent: HostAgent, security: TransportSecurity,
         eventLoopGroup: any EventLoopGroup, logger: Logger) throws(FileSystemError)
    {
        store = StateFile(path: configuration.catalogPath)
        var loaded = try store.load() ?? Catalog(
            managerHost: configuration.advertisedHost, brickPortMin: configuration.brickPortMin)
        loaded.setManagerHost(configuration.advertisedHost)
        catalog = loaded
        try store.save(loaded)
        self.security = security
        security.context?.revocations.merge(loaded.revokedCertificates.keys)
        self.localAgent = localAgent
        localHost = configuration.localHost
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
    }

    func setListenPort(_ port: Int) {
        listenPort = port
    }

    /// What a host agent needs to run `assignments`: the manager's address as seen from their host (bricks of
    /// replicated volumes learn their set there, and every brick follows its volume's options) and the options.
    func agentBricks(_ assignments: [BrickAssignment], host: String) -> [AgentBrick] {
        assignments.map { assignment in
            let managerHost = catalog.isLocal(host) ? localHost : catalog.managerHost
            return AgentBrick(
                assignment, manager: "\(managerHost):\(listenPort)",
                options: catalog.volume(named: assignment.volume)?.options ?? [:])
        }
    }

    /// Starts this host's bricks of every started volume again; other hosts' agents restart their own.
    func resume() async {
        for volume in catalog.volumes where volume.state == .started {
            let local = agentBricks(
                volume.bricks.filter { catalog.isLocal($0.host) }.map { volume.assignment(of: $0) }, host: "127.0.0.1")
            do {
                try await localAgent.start(local)
            } catch {
                logger.error("cannot restart bricks", metadata: ["volume": "\(volume.name)", "reason": "\(error)"])
            }
        }
    }

    func hello() -> HelloResponse {
        HelloResponse(daemonID: localAgent.daemonID, version: Self.version, host: catalog.managerHost)
    }

    func agent(for host: String) -> any AgentEndpoint {
        guard !catalog.isLocal(host), let peer = catalog.peer(host: host) else { return localAgent }
        return RemoteAgent(client: client(peer.host, peer.port))
    }

    /// A management client of another daemon, with this daemon's credentials.
    func client(_ host: String, _ port: Int) -> ManagementClient {
        ManagementClient(host: host, port: port, security: security, eventLoopGroup: eventLoopGroup)
    }

    /// Applies `command` to a copy, writes the copy if asked, and only then makes it the catalog.
    func commit(_ command: CatalogCommand) async throws(FileSystemError) -> [CatalogDirective] {
        var updated = catalog
        let directives = try updated.apply(command)
        try await install(updated, persist: directives.contains(.persist))
        return directives
    }

    /// Makes `updated` the catalog, writing it to stable storage first when `persist`: no change is answered or
    /// acted on before it would survive a crash of the daemon.
    func install(_ updated: Catalog, persist: Bool) async throws(FileSystemError) {
        if persist {
            let store = self.store
            try await onThreadPool { try store.save(updated) }
        }
        catalog = updated
        security.context?.revocations.merge(updated.revokedCertificates.keys)
    }

    // MARK: Certificates

    /// Records certificates as revoked (serial → name); every connection with one is refused from now on.
    func revokeCertificates(_ certificates: [String: String]) async throws(FileSystemError) -> RevokedCertificates {
        await lock.acquire()
        defer { lock.release() }
        _ = try await commit(.revokeCertificates(certificates))
        logger.notice("certificates revoked", metadata: ["revoked": "\(certificates.sorted { $0.key < $1.key })"])
        return revokedCertificates()
    }

    func revokedCertificates() -> RevokedCertificates {
        RevokedCertificates(certificates: catalog.revokedCertificates)
    }

    // MARK: Peers

    func probe(host: String, port: Int) async throws(FileSystemError) -> PeerInfo {
        await lock.acquire()
        defer { lock.release() }
        let hello: HelloResponse
        do {
            hello = try await client(host, port).hello()
        } catch {
            let failure = FileSystemError.wrapping(error)
            throw FileSystemError(failure.code, "cannot probe \(host):\(port): \(failure.message)")
        }
        guard hello.daemonID != localAgent.daemonID else {
            throw FileSystemError.invalidArgument("\(host):\(port) is this daemon itself")
        }
        let peer = Peer(id: hello.daemonID, host: host, port: port, state: .connected)
        _ = try await commit(.addPeer(peer))
        logger.info("peer added", metadata: ["host": "\(host)", "port": "\(port)"])
        return PeerInfo(peer)
    }

    /// The peers, each asked for its hello just now to refresh its state.
    func peers() async throws(FileSystemError) -> [PeerInfo] {
        await lock.acquire()
        defer { lock.release() }
        for peer in catalog.peers {
            let client = client(peer.host, peer.port)
            // A probe: a peer that does not answer is not the daemon asked for.
            let answered = (try? await client.hello()).map { $0.daemonID == peer.id } ?? false
            _ = try await commit(.setPeerState(host: peer.host, state: answered ? .connected : .disconnected))
        }
        return catalog.peers.map(PeerInfo.init)
    }

    func detach(host: String) async throws(FileSystemError) {
        await lock.acquire()
        defer { lock.release() }
        _ = try await commit(.removePeer(host: host))
    }
}
