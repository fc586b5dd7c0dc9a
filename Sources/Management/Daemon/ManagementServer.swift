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
    let listener: NIOAsyncChannel<Connection, Never>
    let logger: Logger
    /// With TLS, every client must present a certificate of the cluster's CA; the router authorizes by its role.
    let security: TransportSecurity
    /// How long a connection may take to send its whole request.
    let requestTimeoutMilliseconds: Int64
    private let admission = ConnectionAdmission(
        connectionsMax: Limits.managementConnectionsMax, perAddressMax: Limits.managementConnectionsPerPeerMax)

    /// The port the listener is bound to (useful when it was asked for port 0).
    var port: Int { listener.channel.localAddress?.port ?? 0 }

    static func bind(
        host: String, port: Int, requestTimeoutMilliseconds: Int64, security: TransportSecurity,
        group: any EventLoopGroup, logger: Logger
    ) async throws(FileSystemError) -> ManagementServer
    {
        let tls = security.context
        do {
            let listener = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .bind(host: host, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let tls { try channel.pipeline.syncOperations.addHandler(try tls.makeServerHandler()) }
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        return try Connection(wrappingChannelSynchronously: channel)
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
    func serve(_ router: Router) async {
        await withDiscardingTaskGroup { group in
            do {
                try await listener.executeThenClose { connections in
                    for try await connection in connections {
                        let peer = ConnectionAdmission.addressKey(connection.channel.remoteAddress)
                        if let refusal = admission.admit(peer) {
                            // Closed through the async channel, which must finish its writer before it goes. Nothing
                            // is left to report if the close fails: the connection is being dropped either way.
                            try? await connection.executeThenClose { _, _ in }
                            if let refused = admission.noteRefusal() {
                                logger.warning("refusing management connections: \(refusal)",
                                               metadata: ["refused": "\(refused)"])
                            }
                            continue
                        }
                        group.addTask {
                            await handle(connection, router: router)
                            admission.release(peer)
                        }
                    }
                }
            } catch {
                logger.error("management listener failed", metadata: ["reason": "\(error)"])
            }
        }
    }
}
