import MortarCore
import MortarHTTPClient
import MortarMembership
import MortarSecurity
import MortarVolumeSpec
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A client of one mortar daemon's HTTP/JSON management API. Every failure is a ``FileSystemError``: the daemon's
/// own errno and message when it answered, `ECONNREFUSED` when it could not be reached, `ENXIO` when its host name
/// does not resolve.
public struct ManagementClient: Sendable {
    /// The management port a daemon listens on unless told otherwise.
    public static let defaultPort = 24007

    /// A daemon's management address.
    public struct Address: Sendable, Hashable, CustomStringConvertible {
        public var host: String
        public var port: Int

        public init(host: String, port: Int = ManagementClient.defaultPort) {
            self.host = host
            self.port = port
        }

        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    /// The first daemon asked.
    public var host: String
    public var port: Int
    /// Daemons asked, in turn, when the ones before could not be reached: with the catalog on etcd every daemon
    /// answers for the whole cluster, so a client given several keeps working when one host is gone.
    public var alternates: [Address]
    /// TLS with this process's credentials (the daemon requires a certificate of the cluster's CA; changes need
    /// an admin or host certificate), or plain for a daemon started with `--insecure`.
    public var security: TransportSecurity
    public var eventLoopGroup: any EventLoopGroup
    /// Which daemon to ask first: the one that answered last (shared by copies of this client).
    private let preferred = Preference()

    private final class Preference: Sendable {
        let index = Atomic<Int>(0)
    }

    public init(host: String, port: Int = ManagementClient.defaultPort, security: TransportSecurity,
                eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.host = host
        self.port = port
        alternates = []
        self.security = security
        self.eventLoopGroup = eventLoopGroup
    }

    /// A client of the first of `servers` that can be reached (at least one; the first is asked first).
    public init(servers: [Address], security: TransportSecurity,
                eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        precondition(!servers.isEmpty, "a management client needs at least one server")
        self.init(host: servers[0].host, port: servers[0].port, security: security, eventLoopGroup: eventLoopGroup)
        alternates = Array(servers.dropFirst())
    }

    /// Every daemon this client may ask, in order.
    public var servers: [Address] { [Address(host: host, port: port)] + alternates }

    /// Parses `HOST[:PORT]` (an IPv6 address goes in brackets when it has a port: `[::1]:24007`).
    public static func parseAddress(
        _ text: String, defaultPort: Int = ManagementClient.defaultPort
    ) throws(FileSystemError) -> (host: String, port: Int) {
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            let host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            guard rest.isEmpty else { return (host, try parsePort(rest.dropFirst(), in: text)) }
            return (host, defaultPort)
        }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2 else {
            guard !text.isEmpty else { throw FileSystemError.invalidArgument("empty daemon address") }
            return (text, defaultPort)
        }
        guard !parts[0].isEmpty else { throw FileSystemError.invalidArgument("no host in address '\(text)'") }
        return (String(parts[0]), try parsePort(parts[1], in: text))
    }

    private static func parsePort(_ text: Substring, in address: String) throws(FileSystemError) -> Int {
        guard let port = Int(text), (0...Limits.portNumberMax).contains(port) else {
            throw FileSystemError.invalidArgument("invalid port in address '\(address)'")
        }
        return port
    }

    // MARK: Transport

    private func exchange(_ method: HTTPMethod, _ uri: String, payload: ByteBuffer?, at server: Address) async throws
        -> HTTPExchange.Reply
    {
        try await HTTPExchange.perform(
            host: server.host, port: server.port, method: method, uri: uri, body: payload, security: security,
            eventLoopGroup: eventLoopGroup)
    }

    private func lostConnection(_ error: any Error, at server: Address) -> FileSystemError {
        if let error = error as? FileSystemError { return error }
        return FileSystemError(.connectionReset, "lost the connection to the mortar daemon at \(server): \(error)")
    }

    /// Sends one request and decodes the reply, or rethrows the daemon's error. With alternates, a daemon that
    /// cannot be reached (the request never left) is passed over for the next, starting from the one that answered
    /// last; a read is also passed on after a lost connection or a timeout (repeating it is harmless, where a
    /// change could be applied twice).
    func send<Response: Decodable>(
        _ method: HTTPMethod, _ uri: String, body: (some Encodable)? = EmptyResponse?.none,
        expecting: Response.Type = Response.self
    ) async throws -> Response {
        let payload = try body.map { value throws(FileSystemError) in try ManagementJSON.encode(value) }
        let servers = servers
        let first = preferred.index.load(ordering: .relaxed) % servers.count
        if method == .GET && servers.count > 1 {
            let (index, reply) = try await hedgedRead(uri, servers: servers, first: first)
            preferred.index.store(index, ordering: .relaxed)
            return try Self.decodeReply(
                Response.self, status: reply.status, body: reply.body, request: "\(servers[index]) answered GET \(uri)")
        }
        for step in 0..<servers.count {
            let index = (first + step) % servers.count
            let server = servers[index]
            let reply: HTTPExchange.Reply
            do {
                reply = try await sendOnce(method, uri, payload: payload, at: server)
            } catch let error as FileSystemError where step + 1 < servers.count && Self.passesOver(error, method) {
                continue
            }
            preferred.index.store(index, ordering: .relaxed)
            return try Self.decodeReply(
                Response.self, status: reply.status, body: reply.body, request: "\(server) answered \(method) \(uri)")
        }
        preconditionFailure("the last server's failure is thrown inside the loop")
    }

    /// How one daemon's part of a hedged read ended, or that the next daemon is due.
    private enum HedgeEvent: Sendable {
        case answered(Int, HTTPExchange.Reply)
        case failed(FileSystemError)
        case due
    }

    /// A read asked of the daemons in turn, starting from the one that answered last, without waiting for a
    /// silent one: the next is asked when the one before failed, or has not answered within
    /// `Limits.managementHedgeMilliseconds` (a host cut off from the network answers nothing, and its connect
    /// alone would take `Limits.connectTimeoutMilliseconds`). The first answer wins; the others are cancelled and
    /// awaited. A read is safe to ask twice.
    private func hedgedRead(_ uri: String, servers: [Address], first: Int) async throws
        -> (Int, HTTPExchange.Reply)
    {
        try await withThrowingTaskGroup(of: HedgeEvent.self) { group in
            var started = 0
            var running = 0
            func askNext(_ group: inout ThrowingTaskGroup<HedgeEvent, any Error>) {
                let index = (first + started) % servers.count
                started += 1
                running += 1
                group.addTask {
                    do {
                        return .answered(index, try await self.sendOnce(.GET, uri, payload: nil, at: servers[index]))
                    } catch let error as FileSystemError {
                        return .failed(error)
                    } catch {
                        return .failed(self.lostConnection(error, at: servers[index]))
                    }
                }
                if started < servers.count {
                    group.addTask {
                        try await Task.sleep(for: .milliseconds(Limits.managementHedgeMilliseconds))
                        return .due
                    }
                }
            }
            askNext(&group)
            defer { group.cancelAll() }
            var lastFailure = FileSystemError(.notConnected, "no mortar daemon was asked")
            while let event = try await group.next() {
                switch event {
                case .answered(let index, let reply):
                    return (index, reply)
                case .failed(let error):
                    running -= 1
                    lastFailure = error
                    guard Self.passesOver(error, .GET) else { throw error }
                    if started < servers.count {
                        askNext(&group)
                    } else if running == 0 {
                        throw error
                    }
                case .due:
                    if started < servers.count { askNext(&group) }
                }
            }
            throw lastFailure
        }
    }

    /// Whether another daemon should be asked after `error`.
    static func passesOver(_ error: FileSystemError, _ method: HTTPMethod) -> Bool {
        switch error.code {
        case .connectionRefused, .noSuchDeviceOrAddress: true
        case .connectionReset, .timedOut: method == .GET
        default: false
        }
    }

    private func sendOnce(_ method: HTTPMethod, _ uri: String, payload: ByteBuffer?, at server: Address) async throws
        -> HTTPExchange.Reply
    {
        do {
            return try await exchange(method, uri, payload: payload, at: server)
        } catch let error as FileSystemError {
            throw error
        } catch where method == .GET {
            // A read is safe to repeat: a daemon that dropped the connection (restarting, at its connection limit)
            // gets one more try before the caller sees an error.
            do {
                return try await exchange(method, uri, payload: payload, at: server)
            } catch {
                throw lostConnection(error, at: server)
            }
        } catch {
            throw lostConnection(error, at: server)
        }
    }

    /// What a reply means: a 2xx body decoded as `Response`, or the daemon's error. The daemon is another process:
    /// every message type checks its indices, counts and ports when decoded, so a bad answer is EPROTO here and
    /// never an index or an overflow later. `request` names the exchange for the message.
    static func decodeReply<Response: Decodable>(
        _ type: Response.Type, status: HTTPResponseStatus, body: ByteBuffer, request: String
    ) throws(FileSystemError) -> Response {
        guard (200..<300).contains(status.code) else {
            // A failure without a readable error body is still a failure: the status line says which.
            if let failure = try? ManagementJSON.decode(ErrorResponse.self, from: body) {
                throw FileSystemError(FileSystemError.Code(rawValue: failure.code), failure.message)
            }
            throw FileSystemError.protocolError("\(request) with \(status)")
        }
        return try ManagementJSON.decode(Response.self, from: body)
    }

    // MARK: Daemon and peers

    /// Who the daemon is.
    public func hello() async throws -> HelloResponse {
        try await send(.GET, "/v1/hello")
    }

    /// Asks the daemon to probe `host:port` and add that host's daemon to its cluster.
    public func probePeer(host: String, port: Int = ManagementClient.defaultPort) async throws -> PeerInfo {
        try await send(.POST, "/v1/peers", body: PeerProbeRequest(host: host, port: port))
    }

    /// The cluster's peers, with whether each answered just now.
    public func peers() async throws -> [PeerInfo] {
        try await send(.GET, "/v1/peers")
    }

    /// Removes `host` from the cluster; refused while it holds bricks.
    public func detachPeer(host: String) async throws {
        let _: EmptyResponse = try await send(.DELETE, "/v1/peers/\(host)")
    }

    // MARK: Certificates

    /// The certificates the cluster refuses.
    public func revokedCertificates() async throws -> RevokedCertificates {
        try await send(.GET, "/v1/certificates/revoked")
    }

    /// Adds certificates (serial → name) to those the cluster refuses; needs an admin certificate.
    public func revokeCertificates(_ certificates: [String: String]) async throws -> RevokedCertificates {
        try await send(.POST, "/v1/certificates/revoked", body: RevokedCertificates(certificates: certificates))
    }

    // MARK: Volumes

    /// Creates a volume over bricks given as `HOST:/PATH`; with `replicaCount` above 1, consecutive bricks form
    /// replica sets of that many members, of which `minInSync` (nil: a majority) must be in sync to write.
    public func createVolume(
        name: String, bricks: [String], replicaCount: Int = 1, minInSync: Int? = nil, force: Bool = false
    ) async throws -> VolumeInfo {
        let request = VolumeCreateRequest(
            name: name, bricks: bricks, replicaCount: replicaCount == 1 ? nil : replicaCount, minInSync: minInSync,
            force: force)
        return try await send(.POST, "/v1/volumes", body: request)
    }

    /// Tells the manager what a member saw; returns the replica set's view afterwards.
    public func reportMembership(volume: String, setIndex: Int, event: MembershipEvent) async throws
        -> ReplicaSetView
    {
        try await send(
            .POST, "/v1/volumes/\(volume)/membership", body: MembershipEventRequest(setIndex: setIndex, event: event))
    }

    /// What every brick of a replicated volume has recorded for heal, as of the last heartbeat.
    public func healInfo(volume: String) async throws -> [BrickHealInfo] {
        try await send(.GET, "/v1/volumes/\(volume)/heal")
    }

    /// Starts healing now every out-of-sync member that answers; returns heal info afterwards.
    public func startHeal(volume: String) async throws -> [BrickHealInfo] {
        try await send(.POST, "/v1/volumes/\(volume)/heal")
    }

    /// Every replica set's current view, by set index; empty for a volume that is not replicated.
    public func volumeMembership(name: String) async throws -> [ReplicaSetView] {
        try await send(.GET, "/v1/volumes/\(name)/membership")
    }

    /// Starts a volume's bricks; clients can fetch its spec afterwards.
    public func startVolume(name: String) async throws -> VolumeInfo {
        try await send(.POST, "/v1/volumes/\(name)/start")
    }

    /// Stops a volume's bricks.
    public func stopVolume(name: String) async throws -> VolumeInfo {
        try await send(.POST, "/v1/volumes/\(name)/stop")
    }

    /// Deletes a volume that is not started. Its brick directories and their files stay where they are.
    public func deleteVolume(name: String) async throws {
        let _: EmptyResponse = try await send(.DELETE, "/v1/volumes/\(name)")
    }

    /// One volume's configuration.
    public func volumeInfo(name: String) async throws -> VolumeInfo {
        try await send(.GET, "/v1/volumes/\(name)")
    }

    /// Every volume's configuration.
    public func volumes() async throws -> [VolumeInfo] {
        try await send(.GET, "/v1/volumes")
    }

    /// A volume's bricks with their processes and whether each is online.
    public func volumeStatus(name: String) async throws -> VolumeStatus {
        try await send(.GET, "/v1/volumes/\(name)/status")
    }

    /// Every option of a volume in force, and which of them were set.
    public func volumeOptions(name: String) async throws -> VolumeOptionsInfo {
        try await send(.GET, "/v1/volumes/\(name)/options")
    }

    /// Sets one option of a volume (`mortar volume set`).
    public func setVolumeOption(volume: String, name: String, value: String) async throws -> VolumeOptionsInfo {
        try await send(.POST, "/v1/volumes/\(volume)/options", body: VolumeOptionRequest(name: name, value: value))
    }

    /// Returns one option (or, with nil, every option) of a volume to its default (`mortar volume reset`).
    public func resetVolumeOption(volume: String, name: String?) async throws -> VolumeOptionsInfo {
        try await send(.DELETE, "/v1/volumes/\(volume)/options" + (name.map { "/\($0)" } ?? ""))
    }

    /// The client layer graph of a started volume.
    public func volumeSpec(name: String) async throws -> VolumeSpec {
        try await send(.GET, "/v1/volumes/\(name)/spec")
    }

    // MARK: Host agent (called by the manager)

    /// Checks that `paths` may become bricks on this daemon's host.
    public func checkBricks(_ request: AgentCheckRequest) async throws {
        let _: EmptyResponse = try await send(.POST, "/v1/agent/check", body: request)
    }

    /// Starts (or keeps running) these bricks on this daemon's host.
    public func startBricks(_ bricks: [AgentBrick]) async throws {
        let _: EmptyResponse = try await send(.POST, "/v1/agent/start", body: AgentBricksRequest(bricks: bricks))
    }

    /// Stops these bricks on this daemon's host.
    public func stopBricks(_ bricks: [AgentBrick]) async throws {
        let _: EmptyResponse = try await send(.POST, "/v1/agent/stop", body: AgentBricksRequest(bricks: bricks))
    }

    /// Every brick this daemon's host runs, with its process and whether it is online.
    public func brickStatus() async throws -> [BrickStatus] {
        try await send(.GET, "/v1/agent/bricks")
    }
}
