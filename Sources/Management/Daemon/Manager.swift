import Foundation
import Logging
import MortarCatalog
import MortarCore
import MortarEtcd
import MortarManagementAPI
import MortarSecurity
import MortarVolumeSpec
import NIOCore

/// The manager half of a daemon: the I/O shell around the pure ``Catalog``. It validates and applies commands,
/// stores the catalog before answering, and carries out the directives through host agents.
///
/// The catalog lives in a ``CatalogStore``: this daemon's file, or etcd shared by every daemon of the cluster.
/// With etcd any daemon serves and changes it; each change is computed on the catalog as read and stored by a
/// transaction comparing that read's revision (``transact(needsRole:_:)``), so concurrent changes through
/// different daemons are serialised by etcd, never lost. Requests are answered from the catalog as etcd holds it
/// then; the heartbeats use a copy at most `Limits.catalogCacheMilliseconds` old (``refresh(force:)``).
actor Manager {
    private(set) var catalog: Catalog
    /// etcd's revision of ``catalog`` (0 with a file); a copy read later replaces it only when its revision is newer.
    private var revision: Int64
    private var readAt: ContinuousClock.Instant
    private let store: CatalogStore
    /// Which daemon's failure detector may change membership (always this one without etcd).
    nonisolated let role: ManagerRole
    private let localAgent: HostAgent
    /// Serialises this daemon's admin commands across their calls to host agents; membership changes never wait
    /// on it (they are transactions of their own).
    let lock = AsyncLock()
    let eventLoopGroup: any EventLoopGroup
    /// How this daemon reaches other daemons; its revocation list follows the catalog's.
    let security: TransportSecurity
    let logger: Logger
    /// The port this daemon's management API listens on (known once it is bound).
    private(set) var listenPort = 0
    /// Where this daemon answers from its own host (``DaemonConfiguration/localHost``); its own bricks reach it
    /// there.
    let localHost: String
    /// The name other hosts use for this one: the catalog's local host, whoever wrote the copy read.
    private let advertisedHost: String
    /// The software and API version reported by hello.
    static let version = "mortar 0.1 (management API v1)"

    /// What this daemon presents to etcd members reached with `https://`: the host's etcd credentials in its TLS
    /// directory (signed by the cluster's etcd CA, not the cluster CA).
    static func etcdSecurity(
        _ endpoints: [EtcdEndpoint], configuration: DaemonConfiguration
    ) throws(FileSystemError) -> TransportSecurity {
        guard endpoints.contains(where: \.secure), let directory = configuration.tlsDirectory else { return .insecure }
        return .tls(try TLSContext(directory: directory, names: .etcd))
    }

    init(configuration: DaemonConfiguration, localAgent: HostAgent, security: TransportSecurity,
         eventLoopGroup: any EventLoopGroup, logger: Logger) async throws(FileSystemError)
    {
        let etcd = try configuration.etcdEndpoints.map { endpoints throws(FileSystemError) in
            EtcdCatalog(client: EtcdClient(
                endpoints: endpoints, security: try Self.etcdSecurity(endpoints, configuration: configuration),
                eventLoopGroup: eventLoopGroup))
        }
        store = etcd.map { .etcd($0) } ?? .file(StateFile(path: configuration.catalogPath), AsyncLock())
        role = ManagerRole(etcd: etcd?.urgentClient, daemonID: localAgent.daemonID, logger: logger)
        let loaded = try await Self.load(store, configuration: configuration, logger: logger)
        var local = loaded.catalog
        local.setManagerHost(configuration.advertisedHost)
        catalog = local
        revision = loaded.revision
        readAt = .now
        advertisedHost = configuration.advertisedHost
        self.security = security
        security.context?.revocations.merge(local.revokedCertificates.keys)
        self.localAgent = localAgent
        localHost = configuration.localHost
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
    }

    /// The stored catalog. The first daemon on a new etcd imports its `catalog.json` if it has one (renamed
    /// `catalog.json.imported` afterwards, so nobody mistakes it for the live copy), or writes an empty catalog.
    private static func load(
        _ store: CatalogStore, configuration: DaemonConfiguration, logger: Logger
    ) async throws(FileSystemError) -> StoredCatalog {
        let file = StateFile<Catalog>(path: configuration.catalogPath)
        switch store {
        case .file(let file, _):
            var catalog = try file.load() ?? Catalog(
                managerHost: configuration.advertisedHost, brickPortMin: configuration.brickPortMin)
            catalog.setManagerHost(configuration.advertisedHost)
            try file.save(catalog)
            return StoredCatalog(catalog: catalog, revision: 0)
        case .etcd(let etcd):
            for _ in 0..<Limits.catalogTransactionAttemptsMax {
                if let stored = try await waitingForEtcd(logger: logger, { () async throws(FileSystemError) in try await etcd.load() }) {
                    return stored
                }
                let imported = try file.load()
                let initial = imported ?? Catalog(
                    managerHost: configuration.advertisedHost, brickPortMin: configuration.brickPortMin)
                guard case .success(let revision) = try await etcd.store(initial, replacing: 0, fence: nil) else {
                    continue  // Another daemon wrote the first catalog meanwhile: read it.
                }
                if imported != nil {
                    guard rename(file.path, file.path + ".imported") == 0 else {
                        throw FileSystemError.fromErrno("rename", file.path)
                    }
                    logger.notice("imported the catalog into etcd", metadata: [
                        "file": "\(file.path)", "volumes": "\(initial.volumes.count)", "peers": "\(initial.peers.count)",
                    ])
                }
                return StoredCatalog(catalog: initial, revision: revision)
            }
            throw FileSystemError(.busy, "the catalog in etcd kept changing while this daemon started")
        }
    }

    /// Runs `body` until etcd answers it: hosts boot together, and a daemon that starts before its etcd has a
    /// quorum waits for one (saying so every `Limits.etcdStartupNoticeMilliseconds`) instead of exiting. Errors
    /// other than an unreachable or leaderless etcd are thrown at once; cancellation (SIGTERM) ends the wait.
    private static func waitingForEtcd<T>(
        logger: Logger, _ body: () async throws(FileSystemError) -> T
    ) async throws(FileSystemError) -> T {
        let start = ContinuousClock.now
        var noticed = start
        while true {
            do {
                return try await body()
            } catch where [.notConnected, .connectionRefused, .connectionReset, .timedOut].contains(error.code) {
                if ContinuousClock.now - noticed >= .milliseconds(Limits.etcdStartupNoticeMilliseconds) {
                    noticed = ContinuousClock.now
                    logger.warning("waiting for etcd to answer (\(ContinuousClock.now - start) so far): \(error.message)")
                }
                do {
                    try await Task.sleep(for: .milliseconds(Limits.managerRenewMilliseconds))
                } catch {
                    throw FileSystemError(.canceled, "stopped while waiting for etcd: \(error)")
                }
            }
        }
    }

    /// Records the bound port and, with etcd, registers this daemon in the shared catalog (its host, port and
    /// identity), so every other daemon can reach its agent.
    func setListenPort(_ port: Int) async throws(FileSystemError) {
        listenPort = port
        guard case .etcd = store else { return }
        let me = Peer(id: localAgent.daemonID, host: advertisedHost, port: port, state: .connected)
        _ = try await commit(.registerDaemon(me))
    }

    /// Reads the catalog again when the copy is older than `Limits.catalogCacheMilliseconds`, or always when
    /// `force` (etcd only; requests force it, so an answer through one daemon reflects every change acknowledged
    /// through any other before the request came). When etcd cannot be read the copy is served as it is: reads
    /// go on without quorum; changes fail naming etcd.
    @discardableResult
    func refresh(force: Bool = false) async -> Catalog {
        guard case .etcd(let etcd) = store,
            force || ContinuousClock.now - readAt >= .milliseconds(Limits.catalogCacheMilliseconds)
        else { return catalog }
        let start = ContinuousClock.now
        do {
            if let stored = try await etcd.load(urgent: true) { adopt(stored, readAt: start) }
        } catch {
            logger.debug("serving the catalog read before: \(error.message)")
        }
        return catalog
    }

    /// Makes `stored` the catalog unless a newer one is already here.
    private func adopt(_ stored: StoredCatalog, readAt instant: ContinuousClock.Instant) {
        guard stored.revision >= revision else { return }
        var local = stored.catalog
        local.setManagerHost(advertisedHost)
        catalog = local
        revision = stored.revision
        readAt = max(readAt, instant)
        security.context?.revocations.merge(local.revokedCertificates.keys)
    }

    /// What a host agent needs to run `assignments`: where the brick asks for its set's views and its volume's
    /// options (with etcd its own host's daemon, which serves them from etcd, then up to
    /// `Limits.brickAlternateManagersMax` other daemons for when its own is gone; without etcd, this daemon) and
    /// the options.
    func agentBricks(_ assignments: [BrickAssignment], host: String) -> [AgentBrick] {
        let manager: String
        var alternates: [String] = []
        if catalog.isLocal(host) {
            manager = "\(localHost):\(listenPort)"
        } else if case .etcd = store, let peer = catalog.peer(host: host) {
            manager = "\(peer.host):\(peer.port)"
        } else {
            manager = "\(catalog.managerHost):\(listenPort)"
        }
        if case .etcd = store {
            // Every daemon sharing etcd registered itself as a peer, this one included.
            let own = catalog.isLocal(host) ? localAgent.daemonID : catalog.peer(host: host)?.id
            alternates = catalog.peers.lazy.filter { $0.id != own }.prefix(Limits.brickAlternateManagersMax)
                .map { "\(ManagementClient.Address(host: $0.host, port: $0.port))" }
        }
        return assignments.map { assignment in
            AgentBrick(
                assignment, manager: manager, alternateManagers: alternates,
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
        HelloResponse(
            daemonID: localAgent.daemonID, version: Self.version, host: catalog.managerHost, managerRole: role.isHeld,
            certificateExpires: security.context?.expiry.certificate, authorityExpires: security.context?.expiry.authority)
    }

    func agent(for host: String) -> any AgentEndpoint {
        guard !catalog.isLocal(host), let peer = catalog.peer(host: host) else { return localAgent }
        return RemoteAgent(client: client(peer.host, peer.port))
    }

    /// A management client of another daemon, with this daemon's credentials.
    func client(_ host: String, _ port: Int) -> ManagementClient {
        ManagementClient(host: host, port: port, security: security, eventLoopGroup: eventLoopGroup)
    }

    /// Applies `command` and stores the result; returns what the shell must do.
    func commit(_ command: CatalogCommand) async throws(FileSystemError) -> [CatalogDirective] {
        try await transact { catalog throws(FileSystemError) in
            let directives = try catalog.apply(command)
            return (directives.contains(.persist), directives)
        }
    }

    /// Computes a change with `change` on the current catalog and stores it before it becomes the catalog: no
    /// change is answered or acted on before it would survive a crash. `change` returns whether it changed
    /// anything worth storing, and its result; it throws to refuse. With etcd a change that lost the race to
    /// another daemon's is computed again on the newer catalog (at most `Limits.catalogTransactionAttemptsMax`
    /// times); `needsRole` also makes the transaction fail if this daemon no longer holds the manager role, and
    /// `urgent` (a failover waits on it) gives each etcd member `Limits.etcdUrgentRequestTimeoutMilliseconds`.
    func transact<Result: Sendable>(
        needsRole: Bool = false, urgent: Bool = false,
        _ change: (inout Catalog) throws(FileSystemError) -> (persist: Bool, result: Result)
    ) async throws(FileSystemError) -> Result {
        switch store {
        case .file(let file, let fileLock):
            await fileLock.acquire()
            defer { fileLock.release() }
            var updated = catalog
            let (persist, result) = try change(&updated)
            if persist {
                let written = updated
                try await onThreadPool { try file.save(written) }
            }
            catalog = updated
            security.context?.revocations.merge(updated.revokedCertificates.keys)
            return result
        case .etcd(let etcd):
            let fence = needsRole ? try role.fence() : nil
            for _ in 0..<Limits.catalogTransactionAttemptsMax {
                var updated = catalog
                let base = revision
                let (persist, result) = try change(&updated)
                guard persist else { return result }
                let start = ContinuousClock.now
                switch try await etcd.store(updated, replacing: base, fence: fence, urgent: urgent) {
                case .success(let stored):
                    adopt(StoredCatalog(catalog: updated, revision: stored), readAt: start)
                    return result
                case .failure(.changed(let newer)):
                    guard let newer else {
                        throw FileSystemError.inputOutput("the catalog was deleted from etcd (\(EtcdCatalog.catalogKey))")
                    }
                    adopt(newer, readAt: start)
                case .failure(.roleLost):
                    role.lost()
                    throw FileSystemError(.notConnected, "the manager role moved to another daemon; its change was dropped")
                }
            }
            throw FileSystemError(
                .busy, "the catalog kept changing under this change; gave up after \(Limits.catalogTransactionAttemptsMax) tries")
        }
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
        if case .etcd = store {
            // Daemons sharing etcd register themselves: a probe only confirms that the host is one of them.
            guard let registered = catalog.peers.first(where: { $0.id == hello.daemonID }) else {
                throw FileSystemError.invalidArgument(
                    "\(host):\(port) does not use this cluster's etcd; start its daemon with --etcd "
                        + "and the same URLs, and it joins by itself")
            }
            return PeerInfo(registered)
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
        for peer in catalog.peers where !catalog.isLocal(peer.host) {
            let client = client(peer.host, peer.port)
            // A probe: a peer that does not answer is not the daemon asked for.
            let answered = (try? await client.hello()).map { $0.daemonID == peer.id } ?? false
            _ = try await commit(.setPeerState(host: peer.host, state: answered ? .connected : .disconnected))
        }
        return catalog.peers.filter { !catalog.isLocal($0.host) }.map(PeerInfo.init)
    }

    func detach(host: String) async throws(FileSystemError) {
        await lock.acquire()
        defer { lock.release() }
        _ = try await commit(.removePeer(host: host))
    }
}
