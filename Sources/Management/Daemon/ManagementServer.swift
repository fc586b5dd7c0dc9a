import Logging
import MortarCore
import MortarSecurity
import MortarTransport
import NIOCore
import NIOHTTP1
import NIOPosix

/// The daemon's HTTP/1.1 listener: one request per connection, bodies bounded by
/// ``Limits/managementMessageByteCountMax``, connections bounded by ``Limits/managementConnectionsMax`` in all and
/// ``Limits/managementConnectionsPerPeerMax`` per peer address, each given ``requestTimeoutMilliseconds`` to send
/// its request (``Limits/managementRequestReadMilliseconds`` by default). A
/// malformed or oversized request closes its connection with a logged reason; the listener keeps serving.
struct ManagementServer: Sendable {
    typealias Connection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>
    let listener: NIOAsyncChannel<Admitted<Connection>, Never>
    let logger: Logger
    /// With TLS, every client must present a certificate of the cluster's CA; the router authorizes by its role.
    let security: TransportSecurity
    /// How long a connection may take to send its whole request.
    let requestTimeoutMilliseconds: Int64

    /// The port the listener is bound to (useful when it was asked for port 0).
    var port: Int { listener.channel.localAddress?.port ?? 0 }

    static func bind(
        host: String, port: Int, requestTimeoutMilliseconds: Int64, security: TransportSecurity,
        group: any EventLoopGroup, logger: Logger
    ) async throws(FileSystemError) -> ManagementServer
    {
        let tls = security.context
        let admission = ConnectionAdmission(
            connectionsMax: Limits.managementConnectionsMax, perAddressMax: Limits.managementConnectionsPerPeerMax)
        do {
            let listener = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .bind(host: host, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture { () throws -> Admitted<Connection> in
                        // Before anything is allocated for the connection: a flood beyond the bounds costs nothing.
                        guard admission.admit(channel, logger: logger) else { return .refused }
                        if let tls { try channel.pipeline.syncOperations.addHandler(tls.makeServerHandler()) }
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        return .admitted(try Connection.finishingWhenDropped(channel))
                    }
                }
            return ManagementServer(
                listener: listener, logger: logger, security: security,
                requestTimeoutMilliseconds: requestTimeoutMilliseconds)
        } catch {
            throw FileSystemError(.busy, "cannot listen on \(host):\(port): \(error)")
        }
    }

    /// Stops accepting connections; ``serve(_:)`` returns once the open ones are done.
    func close() {
        listener.channel.close(promise: nil)
    }

    /// Accepts connections until ``close()`` and answers each with `router`.
    func serve(_ router: some HTTPResponder) async {
        await withDiscardingTaskGroup { group in
            do {
                try await listener.executeThenClose { connections in
                    for try await accepted in connections {
                        guard case .admitted(let connection) = accepted else { continue }
                        group.addTask { await handle(connection, router: router) }
                    }
                }
            } catch {
                logger.error("management listener failed", metadata: ["reason": "\(error)"])
            }
        }
    }
}

/// What answers the requests of a ``ManagementServer``: the management API (``Router``), or the metrics endpoint.
protocol HTTPResponder: Sendable {
    /// Answers one request from `identity` (nil without TLS).
    func respond(method: HTTPMethod, uri: String, body: ByteBuffer, identity: PeerIdentity?) async -> Response
    /// The answer to a request refused before it reached ``respond(method:uri:body:identity:)``.
    func failure(_ error: any Error) -> Response
}

/// One HTTP answer: status, body and its type.
struct Response: Sendable {
    var status: HTTPResponseStatus
    var body: ByteBuffer
    var contentType = "application/json"
}

