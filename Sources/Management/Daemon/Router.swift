import MortarCore
import MortarManagementAPI
import MortarSecurity
import NIOCore
import NIOHTTP1

/// Maps each `/v1/` endpoint to the manager or the host agent and encodes the answer as JSON. Errors become an
/// ``ErrorResponse`` carrying the errno and message, which the client rethrows as the same ``FileSystemError``.
struct Router: HTTPResponder {
    let manager: Manager
    let agent: HostAgent
    let monitor: ReplicaMonitor
    let host: String

    /// Answers one request from `identity` (nil when the daemon runs without TLS: everyone may do everything).
    func respond(method: HTTPMethod, uri: String, body: ByteBuffer, identity: PeerIdentity?) async -> Response {
        do {
            let parts = uri.split(separator: "?", maxSplits: 1)
            let path = parts.first ?? ""
            let query = Self.query(parts.count > 1 ? parts[1] : "")
            let segments = path.split(separator: "/").map(String.init)
            guard segments.first == "v1" else {
                throw FileSystemError.notFound("no endpoint \(method) \(path); the API lives under /v1/")
            }
            let rest = Array(segments.dropFirst())
            if let identity { try await authorize(method, rest, identity) }
            // Every request is answered from the catalog as it is now: a change acknowledged through another daemon
            // is seen, and a change is never refused on a stale copy (it could name a host that joined a moment ago).
            await manager.refresh(force: true)
            let answer = try await route(method, rest, body, query)
            // Never an answer a client would refuse for its size: say why instead.
            guard answer.readableBytes <= Limits.managementMessageByteCountMax else {
                throw FileSystemError(
                    .fileTooLarge,
                    "the answer to \(method) \(path) takes \(answer.readableBytes) bytes, more than the \(Limits.managementMessageByteCountMax) a reply may")
            }
            return Response(status: .ok, body: answer)
        } catch {
            return Self.failure(error)
        }
    }

    func failure(_ error: any Error) -> Response { Self.failure(error) }

    static func failure(_ error: any Error) -> Response {
        let failure = FileSystemError.wrapping(error)
        let reply = ErrorResponse(code: failure.code.rawValue, message: failure.message)
        // An unencodable reply still answers, with the failure's text.
        let encoded = (try? ManagementJSON.encode(reply)) ?? ByteBuffer(string: failure.message)
        return Response(status: Self.status(for: failure.code), body: encoded)
    }

    /// Who may do what. Hosts (daemons and their bricks) may do everything; only they may call another host's agent
    /// or report a replica member's state. Admins may change the cluster, and see a volume's hottest files and its
    /// clients (`top`, `clients`). Anyone else with a certificate of the cluster's CA may read the rest, and fetch
    /// what it needs to connect to volumes whose `auth.ssl-allow` names it.
    private func authorize(_ method: HTTPMethod, _ segments: [String], _ identity: PeerIdentity) async throws {
        guard identity.role != .host else { return }
        let area = segments.first ?? ""
        let hostsOnly = area == "agent" && method != .GET
            || area == "volumes" && segments.count == 3 && segments[2] == "membership" && method != .GET
        if hostsOnly {
            throw FileSystemError(
                .permissionDenied, "\(method) /v1/\(segments.joined(separator: "/")) is for cluster hosts; certificate \(identity) is not one")
        }
        if method != .GET, method != .HEAD, !identity.role.mayManage {
            throw FileSystemError(
                .permissionDenied, "changing the cluster needs an admin certificate; certificate \(identity) is a \(identity.role) certificate")
        }
        // Which files a volume's clients use, and who they are, is for admins to see.
        if area == "volumes", segments.count == 3, ["top", "clients"].contains(segments[2]), !identity.role.mayManage {
            throw FileSystemError(
                .permissionDenied, "\(segments[2]) of a volume needs an admin certificate; certificate \(identity) is a \(identity.role) certificate")
        }
        if identity.role == .client, area == "volumes", segments.count >= 2 {
            let options = try VolumeOptions(try await manager.volumeOptions(name: segments[1]).values)
            guard options.certificateNames?.contains(identity.name) ?? true else {
                throw FileSystemError(
                    .permissionDenied, "certificate '\(identity.name)' is not in auth.ssl-allow of volume \(segments[1])")
            }
        }
    }

    /// `name=value&…` of a request's URI (no percent-decoding: the API's values are names and numbers).
    static func query(_ text: Substring) -> [String: String] {
        var values: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = parts.first, !name.isEmpty else { continue }
            values[String(name)] = parts.count > 1 ? String(parts[1]) : ""
        }
        return values
    }

    private func route(
        _ method: HTTPMethod, _ segments: [String], _ body: ByteBuffer, _ query: [String: String]
    ) async throws -> ByteBuffer {
        switch (method, segments.first ?? "") {
        case (.GET, "hello") where segments.count == 1:
            return try ManagementJSON.encode(await manager.hello())
        case (_, "peers"):
            return try await routePeers(method, Array(segments.dropFirst()), body)
        case (_, "volumes"):
            return try await routeVolumes(method, Array(segments.dropFirst()), body, query)
        case (_, "agent"):
            return try await routeAgent(method, Array(segments.dropFirst()), body)
        case (.GET, "certificates") where segments.count == 2 && segments[1] == "revoked":
            return try ManagementJSON.encode(await manager.revokedCertificates())
        case (.POST, "certificates") where segments.count == 2 && segments[1] == "revoked":
            let request = try ManagementJSON.decode(RevokedCertificates.self, from: body)
            return try ManagementJSON.encode(try await manager.revokeCertificates(request.certificates))
        default:
            throw Self.noEndpoint(method, segments)
        }
    }

    private func routePeers(_ method: HTTPMethod, _ rest: [String], _ body: ByteBuffer) async throws -> ByteBuffer {
        switch (method, rest.count) {
        case (.GET, 0):
            return try ManagementJSON.encode(try await manager.peers())
        case (.POST, 0):
            let request = try ManagementJSON.decode(PeerProbeRequest.self, from: body)
            return try ManagementJSON.encode(try await manager.probe(host: request.host, port: request.port))
        case (.DELETE, 1):
            try await manager.detach(host: rest[0])
            return try ManagementJSON.encode(EmptyResponse())
        default:
            throw Self.noEndpoint(method, ["peers"] + rest)
        }
    }

    private func routeVolumes(
        _ method: HTTPMethod, _ rest: [String], _ body: ByteBuffer, _ query: [String: String]
    ) async throws -> ByteBuffer {
        switch (method, rest.count, rest.last ?? "") {
        case (.GET, 0, _):
            return try ManagementJSON.encode(await manager.volumes())
        case (.POST, 0, _):
            let request = try ManagementJSON.decode(VolumeCreateRequest.self, from: body)
            return try ManagementJSON.encode(try await manager.createVolume(request))
        case (.GET, 1, _):
            return try ManagementJSON.encode(try await manager.volumeInfo(name: rest[0]))
        case (.DELETE, 1, _):
            try await manager.deleteVolume(name: rest[0])
            return try ManagementJSON.encode(EmptyResponse())
        case (.POST, 2, "start"):
            return try ManagementJSON.encode(try await manager.startVolume(name: rest[0]))
        case (.POST, 2, "stop"):
            return try ManagementJSON.encode(try await manager.stopVolume(name: rest[0]))
        case (.GET, 2, "status"):
            return try ManagementJSON.encode(try await manager.volumeStatus(name: rest[0]))
        case (.GET, 2, "spec"):
            return try ManagementJSON.encode(try await manager.volumeSpec(name: rest[0]))
        case (.GET, 2, "options"):
            return try ManagementJSON.encode(try await manager.volumeOptions(name: rest[0]))
        case (.POST, 2, "options"):
            let request = try ManagementJSON.decode(VolumeOptionRequest.self, from: body)
            return try ManagementJSON.encode(
                try await manager.setOption(volume: rest[0], name: request.name, value: request.value))
        case (.DELETE, 2, "options"):
            return try ManagementJSON.encode(try await manager.resetOption(volume: rest[0], name: nil))
        case (.DELETE, 3, _) where rest[1] == "options":
            return try ManagementJSON.encode(try await manager.resetOption(volume: rest[0], name: rest[2]))
        case (.GET, 2, "membership"):
            return try ManagementJSON.encode(try await manager.membership(volume: rest[0]))
        case (.POST, 2, "membership"):
            let request = try ManagementJSON.decode(MembershipEventRequest.self, from: body)
            let (_, view) = try await manager.applyMembership(
                volume: rest[0], setIndex: request.setIndex, event: request.event)
            return try ManagementJSON.encode(view)
        case (.GET, 2, "heal"):
            return try ManagementJSON.encode(await monitor.healInfo(volume: try await manager.replicatedVolume(rest[0])))
        case (.POST, 2, "heal"):
            let volume = try await manager.replicatedVolume(rest[0])
            await monitor.startHeal(volume: volume)
            return try ManagementJSON.encode(await monitor.healInfo(volume: try await manager.replicatedVolume(rest[0])))
        case (.POST, 2, "profile"):
            return try ManagementJSON.encode(try await manager.volumeProfile(name: rest[0]))
        case (.GET, 2, "top"):
            let kindName = query["kind"] ?? ""
            guard let kind = TopKind(name: kindName) else {
                throw FileSystemError.invalidArgument(
                    "top kind '\(kindName)': one of \(TopKind.allCases.map(\.name).joined(separator: ", "))")
            }
            let countText = query["count"] ?? "\(Limits.profileTopCountDefault)"
            guard let count = Int(countText) else { throw FileSystemError.invalidArgument("top count '\(countText)' is not a number") }
            return try ManagementJSON.encode(try await manager.volumeTop(name: rest[0], kind: kind, count: count))
        case (.GET, 2, "clients"):
            return try ManagementJSON.encode(try await manager.volumeClients(name: rest[0]))
        case (.GET, 2, "rebalance"):
            return try ManagementJSON.encode(try await manager.rebalanceStatus(volume: rest[0]))
        case (.POST, 3, "start") where rest[1] == "rebalance":
            return try ManagementJSON.encode(try await manager.startRebalance(volume: rest[0]))
        case (.POST, 3, "stop") where rest[1] == "rebalance":
            return try ManagementJSON.encode(try await manager.stopRebalance(volume: rest[0]))
        case (.POST, 2, "add-brick"):
            let request = try ManagementJSON.decode(VolumeAddBrickRequest.self, from: body)
            return try ManagementJSON.encode(try await manager.addBricks(volume: rest[0], request))
        case (.POST, 2, "replace-brick"):
            let request = try ManagementJSON.decode(VolumeReplaceBrickRequest.self, from: body)
            return try ManagementJSON.encode(try await manager.replaceBrick(volume: rest[0], request))
        default:
            throw Self.noEndpoint(method, ["volumes"] + rest)
        }
    }

    private func routeAgent(_ method: HTTPMethod, _ rest: [String], _ body: ByteBuffer) async throws -> ByteBuffer {
        switch (method, rest.first ?? "") {
        case (.POST, "check"):
            try await agent.check(try ManagementJSON.decode(AgentCheckRequest.self, from: body))
        case (.POST, "start"):
            try await agent.start(try ManagementJSON.decode(AgentBricksRequest.self, from: body).bricks)
        case (.POST, "stop"):
            try await agent.stop(try ManagementJSON.decode(AgentBricksRequest.self, from: body).bricks)
        case (.GET, "bricks"):
            return try ManagementJSON.encode(await agent.status(host: host))
        default:
            throw Self.noEndpoint(method, ["agent"] + rest)
        }
        return try ManagementJSON.encode(EmptyResponse())
    }

    private static func noEndpoint(_ method: HTTPMethod, _ segments: [String]) -> FileSystemError {
        FileSystemError(.notSupported, "no endpoint \(method) /v1/\(segments.joined(separator: "/"))")
    }

    static func status(for code: FileSystemError.Code) -> HTTPResponseStatus {
        switch code {
        case .notFound: .notFound
        case .permissionDenied: .forbidden
        case .invalidArgument, .notDirectory, .protocolError: .badRequest
        case .exists, .busy, .notConnected: .conflict
        case .notSupported: .methodNotAllowed
        case .connectionRefused, .timedOut, .noSuchDeviceOrAddress: .badGateway
        default: .internalServerError
        }
    }
}
