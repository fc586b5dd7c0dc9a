import Logging
import MortarCore
import MortarWire
import NIOCore
import NIOPosix
import Synchronization

/// What serves one client connection: the brick server opens a session per connection so that open files and
/// locks are scoped to it and released when it goes.
public protocol RequestSession: Sendable {
    func handle(_ request: Request, context: OperationContext) async throws -> Reply
    /// Called once when the connection has gone, after every request of it has finished.
    func close() async
}

/// Accepts connections on an endpoint, performs the handshake, and runs each connection's requests concurrently
/// (at most `Limits.serverRequestsInFlightPerConnectionMax` at once; beyond that it stops reading, so TCP pushes
/// back on the client). A connection that sends a malformed frame is closed with the reason logged; the others
/// carry on.
public final class RequestServer: Sendable {
    public typealias SessionFactory = @Sendable (_ connectionID: UInt64, _ peer: String) -> any RequestSession

    private let makeSession: SessionFactory
    private let logger: Logger
    private let connectionCounter = Atomic<UInt64>(0)

    public init(logger: Logger, makeSession: @escaping SessionFactory) {
        self.logger = logger
        self.makeSession = makeSession
    }

    /// Binds the endpoint and returns the bound server channel; ``serve(_:)`` then runs it until cancelled.
    public func bind(_ endpoint: Endpoint, eventLoopGroup: any EventLoopGroup) async throws
        -> NIOAsyncChannel<NIOAsyncChannel<Frame, Frame>, Never>
    {
        let bootstrap = ServerBootstrap(group: eventLoopGroup)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 256)
            .childChannelOption(.recvAllocator, value: TransportTuning.receiveAllocator)
        let initialize: @Sendable (any Channel) -> EventLoopFuture<NIOAsyncChannel<Frame, Frame>> = { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandlers([ByteToMessageHandler(FrameDecoder()), FrameEncoder()])
                return try NIOAsyncChannel<Frame, Frame>(wrappingChannelSynchronously: channel)
            }
        }
        do {
            switch endpoint {
            case .tcp(let host, let port):
                return try await bootstrap.childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                    .bind(host: host, port: port, childChannelInitializer: initialize)
            case .unixSocket(let path):
                return try await bootstrap.bind(
                    unixDomainSocketPath: path, cleanupExistingSocketFile: true, childChannelInitializer: initialize)
            }
        } catch {
            throw FileSystemError(.busy, "cannot listen on \(endpoint): \(error)")
        }
    }

    /// Serves connections until the task is cancelled or the server channel closes.
    public func serve(_ server: NIOAsyncChannel<NIOAsyncChannel<Frame, Frame>, Never>) async throws {
        try await withThrowingDiscardingTaskGroup { group in
            try await server.executeThenClose { inbound in
                for try await connection in inbound {
                    let executor = EventLoopTaskExecutor(connection.channel.eventLoop)
                    group.addTask(executorPreference: executor) { await self.serveConnection(connection) }
                }
            }
            // The listener closed (shutdown): end the connections too, so the server's task can finish.
            group.cancelAll()
        }
    }

    private func serveConnection(_ connection: NIOAsyncChannel<Frame, Frame>) async {
        let connectionID = connectionCounter.wrappingAdd(1, ordering: .relaxed).newValue
        let peer = connection.channel.remoteAddress?.description ?? "local client"
        var logger = logger
        logger[metadataKey: "connection.id"] = "\(connectionID)"
        logger[metadataKey: "connection.peer"] = "\(peer)"
        let session = makeSession(connectionID, peer)
        do {
            try await connection.executeThenClose { inbound, outbound in
                var frames = inbound.makeAsyncIterator()
                guard try await acceptHello(&frames, outbound, logger: logger) else { return }
                try await serveRequests(&frames, outbound, session: session, connectionID: connectionID, logger)
            }
            logger.debug("connection closed by client")
        } catch {
            logger.notice("closing connection: \(error)")
        }
        await session.close()
    }

    private func acceptHello(
        _ frames: inout NIOAsyncChannelInboundStream<Frame>.AsyncIterator,
        _ outbound: NIOAsyncChannelOutboundWriter<Frame>, logger: Logger
    ) async throws -> Bool {
        guard let first = try await frames.next() else { return false }
        guard first.kind == .hello else { throw WireError("first frame was \(first.kind), not a hello") }
        var reply = ByteBuffer()
        do {
            let hello = try Handshake.Hello.decode(first.payload)
            try Handshake.check(hello)
            Handshake.encodeAccept(into: &reply)
            try await outbound.write(Frame(kind: .helloReply, requestID: first.requestID, payload: reply))
            logger.debug("client connected", metadata: ["client.name": "\(hello.clientName)"])
            return true
        } catch let error as FileSystemError {
            Handshake.encodeReject(error, into: &reply)
            try await outbound.write(Frame(kind: .helloReply, requestID: first.requestID, payload: reply))
            logger.notice("rejected client: \(error.message)")
            return false
        }
    }

    private func serveRequests(
        _ frames: inout NIOAsyncChannelInboundStream<Frame>.AsyncIterator,
        _ outbound: NIOAsyncChannelOutboundWriter<Frame>, session: any RequestSession, connectionID: UInt64,
        _ logger: Logger
    ) async throws {
        let slots = AsyncSemaphore(value: Limits.serverRequestsInFlightPerConnectionMax)
        try await withThrowingDiscardingTaskGroup { group in
            while let frame = try await frames.next() {
                guard frame.kind == .request else { throw WireError("unexpected \(frame.kind) frame from a client") }
                let (request, credentials) = try Request.decode(frame.payload)
                await slots.acquire()
                group.addTask {
                    defer { slots.release() }
                    let context = OperationContext(
                        userID: credentials.userID, groupID: credentials.groupID,
                        supplementaryGroupIDs: credentials.supplementaryGroupIDs, processID: credentials.processID,
                        connectionID: connectionID, replication: credentials.replication, logger: logger)
                    let reply = await Self.answer(request, session: session, context: context, id: frame.requestID)
                    // The connection is gone: nobody is left to answer.
                    try? await outbound.write(reply)
                }
            }
            // The client has gone: requests still waiting (a blocking lock, say) have nobody to answer to.
            group.cancelAll()
        }
    }

    private static func answer(
        _ request: Request, session: any RequestSession, context: OperationContext, id: UInt64
    ) async -> Frame {
        var payload = ByteBuffer()
        do {
            let reply = try await session.handle(request, context: context)
            let trailer = reply.encodeHead(into: &payload)
            return Frame(kind: .reply, requestID: id, payload: payload, trailer: trailer)
        } catch {
            ErrorReply.encode(FileSystemError.wrapping(error), into: &payload)
            return Frame(kind: .errorReply, requestID: id, payload: payload)
        }
    }
}
