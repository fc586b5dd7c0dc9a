import Logging
import MortarCore
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// The daemon's HTTP/1.1 listener: one request per connection, bodies bounded by
/// ``Limits/managementMessageByteCountMax``, connections bounded by ``Limits/managementConnectionsMax``. A
/// malformed or oversized request closes its connection with a logged reason; the listener keeps serving.
struct ManagementServer: Sendable {
    typealias Connection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>
    let listener: NIOAsyncChannel<Connection, Never>
    let logger: Logger
    /// How long a connection may take to send its whole request.
    let requestTimeoutMilliseconds: Int64
    private let openConnections = ConnectionCounter()

    /// The port the listener is bound to (useful when it was asked for port 0).
    var port: Int { listener.channel.localAddress?.port ?? 0 }

    static func bind(
        host: String, port: Int, requestTimeoutMilliseconds: Int64, group: any EventLoopGroup, logger: Logger
    ) async throws(FileSystemError) -> ManagementServer
    {
        do {
            let listener = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .bind(host: host, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        return try Connection(wrappingChannelSynchronously: channel)
                    }
                }
            return ManagementServer(
                listener: listener, logger: logger, requestTimeoutMilliseconds: requestTimeoutMilliseconds)
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
                        guard openConnections.increment() <= Limits.managementConnectionsMax else {
                            openConnections.decrement()
                            logger.warning("closing connection: too many open management connections",
                                           metadata: ["limit": "\(Limits.managementConnectionsMax)"])
                            // Cleanup: the connection is being dropped.
                            try? await connection.channel.close()
                            continue
                        }
                        group.addTask {
                            await handle(connection, router: router)
                            openConnections.decrement()
                        }
                    }
                }
            } catch {
                logger.error("management listener failed", metadata: ["reason": "\(error)"])
            }
        }
    }
}

/// A counter of open connections, shared by the accept loop and the connection tasks.
final class ConnectionCounter: Sendable {
    private let value = Atomic<Int>(0)

    /// Adds one and returns the new count.
    func increment() -> Int { value.wrappingAdd(1, ordering: .relaxed).newValue }
    func decrement() { value.wrappingSubtract(1, ordering: .relaxed) }
}
