import CMortarLinux
import Glibc
import Logging
import MortarCore
import MortarSecurity
import MortarWire
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// What serves one client connection: the brick server opens a session per connection so that open files and
/// locks are scoped to it and released when it goes.
public protocol RequestSession: Sendable {
    /// Called for each request in the client's order before it runs (``handle(_:context:)`` runs them concurrently):
    /// bookkeeping that must follow that order — a release counted before the open sent after it. Must not block.
    func received(_ request: Request)
    func handle(_ request: Request, context: OperationContext) async throws -> Reply
    /// Called once when the connection has gone, after every request of it has finished.
    func close() async
}

/// Accepts connections on an endpoint, performs the handshake, and runs each connection's requests concurrently
/// (at most `Limits.serverRequestsInFlightPerConnectionMax` at once; beyond that it stops reading, so TCP pushes
/// back on the client). A connection that sends a malformed frame is closed with the reason logged; the others
/// carry on.
///
/// Bounded: at most `budget.connectionsMax` connections at once and `budget.connectionsPerAddressMax` from one
/// address (Unix-socket clients count as one address); a connection beyond either is closed as soon as it is
/// accepted. A connection must complete its hello within `helloDeadline`, or it is closed.
public final class RequestServer: Sendable {
    /// Makes the session of a connection whose hello was accepted, or throws to refuse the client: the error goes
    /// back as the hello's rejection.
    public typealias SessionFactory = @Sendable (_ connectionID: UInt64, _ peer: ClientPeer) throws -> any RequestSession

    private let makeSession: SessionFactory
    private let logger: Logger
    private let connectionCounter = Atomic<UInt64>(0)
    private let admission: ConnectionAdmission
    private let helloDeadline: TimeAmount
    private let security: TransportSecurity
    /// Open connections by ID with their peer's certificate serial, so that a revoked certificate's connections
    /// can be cut (``disconnect(serials:)``).
    private let connections = Mutex<[UInt64: (serial: String, channel: any Channel)]>([:])
    /// Told of each connection refused before it was served (for metrics).
    private let refused: (@Sendable (_ why: Refusal) -> Void)?

    /// Why a connection was refused before it was served.
    public enum Refusal: String, Sendable, CaseIterable {
        /// The TLS handshake failed: no certificate, one of another CA, garbage instead of TLS.
        case tlsHandshake = "tls-handshake"
        /// The hello was refused: a bad hello, a revoked certificate, an address or uid the brick does not admit.
        case hello
    }

    /// - Parameters:
    ///   - security: with TLS, TCP clients must present a certificate of the cluster's CA (and Unix-socket
    ///     clients must be root); insecure, anyone who can connect is served.
    ///   - refused: told of each connection refused before it was served, and why.
    public init(
        logger: Logger, security: TransportSecurity, budget: DescriptorBudget = .unlimited,
        helloDeadline: TimeAmount = .milliseconds(Limits.helloDeadlineMilliseconds),
        refused: (@Sendable (_ why: Refusal) -> Void)? = nil,
        makeSession: @escaping SessionFactory
    ) {
        self.refused = refused
        self.logger = logger
        self.security = security
        self.makeSession = makeSession
        self.admission = ConnectionAdmission(
            connectionsMax: budget.connectionsMax, perAddressMax: budget.connectionsPerAddressMax)
        self.helloDeadline = helloDeadline
    }

    /// A bound endpoint: the connections it accepts, each admitted or already closed.
    public typealias Listener = NIOAsyncChannel<Admitted<NIOAsyncChannel<Frame, Frame>>, Never>

    /// Binds the endpoint and returns the bound server channel; ``serve(_:)`` then runs it until cancelled.
    public func bind(_ endpoint: Endpoint, eventLoopGroup: any EventLoopGroup) async throws
        -> Listener
    {
        let bootstrap = ServerBootstrap(group: eventLoopGroup)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 256)
            .childChannelOption(.recvAllocator, value: TransportTuning.receiveAllocator)
        var tls: TLSContext?
        if case .tcp = endpoint { tls = security.context }
        let initialize: @Sendable (any Channel) -> EventLoopFuture<Admitted<NIOAsyncChannel<Frame, Frame>>> = {
            [tls, admission, logger] channel in
            channel.eventLoop.makeCompletedFuture {
                // Admitted before anything is allocated for the connection (a TLS session above all), so a flood
                // of connections beyond the bounds costs the brick no memory.
                guard admission.admit(channel, logger: logger) else { return .refused }
                let pipeline = channel.pipeline.syncOperations
                if let tls {
                    try pipeline.addHandlers([tls.makeServerHandler(), TLSWriteSplitter(), FrameAssembler()])
                } else {
                    try pipeline.addHandler(ByteToMessageHandler(FrameDecoder()))
                }
                try pipeline.addHandler(FrameEncoder())
                return .admitted(try NIOAsyncChannel<Frame, Frame>.finishingWhenDropped(channel))
            }
        }
        do {
            switch endpoint {
            case .tcp(let host, let port):
                return try await bootstrap.childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                    .bind(host: host, port: port, childChannelInitializer: initialize)
            case .unixSocket(let path):
                let server = try await bootstrap.bind(
                    unixDomainSocketPath: path, cleanupExistingSocketFile: true, childChannelInitializer: initialize)
                // With TLS on, only root may use the plain socket: the mode keeps others out, and the peer's uid
                // is checked at the hello (someone who connected before the chmod).
                if security.context != nil, chmod(path, 0o600) != 0 {
                    server.channel.close(promise: nil)
                    throw FileSystemError.fromErrno("chmod", path)
                }
                return server
            }
        } catch {
            throw FileSystemError(.busy, "cannot listen on \(endpoint): \(error)")
        }
    }

    /// Serves connections until the task is cancelled or the server channel closes.
    public func serve(_ server: Listener) async throws {
        try await withThrowingDiscardingTaskGroup { group in
            try await server.executeThenClose { inbound in
                for try await accepted in inbound {
                    guard case .admitted(let connection) = accepted else { continue }
                    let executor = EventLoopTaskExecutor(connection.channel.eventLoop)
                    group.addTask(executorPreference: executor) {
                        await self.serveConnection(connection)
                    }
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
        let address = connection.channel.remoteAddress?.ipAddress
        let isUnixSocket = connection.channel.remoteAddress.map { if case .unixDomainSocket = $0 { true } else { false } } ?? true
        // Closing the channel ends the wait for the first frame; the flag tells that apart from a client that left.
        let helloOverdue = OverdueFlag()
        let channel = connection.channel
        let deadline = channel.eventLoop.scheduleTask(in: helloDeadline) {
            helloOverdue.value.store(true, ordering: .relaxed)
            channel.close(promise: nil)
        }
        var opened: (any RequestSession)?
        do {
            try await connection.executeThenClose { inbound, outbound in
                var frames = inbound.makeAsyncIterator()
                let session = try await acceptHello(&frames, outbound, logger: logger) { hello async throws in
                    let identity = try await authenticate(connection.channel, isUnixSocket: isUnixSocket)
                    if let identity {
                        connections.withLock { $0[connectionID] = (identity.serial, connection.channel) }
                    }
                    return try makeSession(
                        connectionID,
                        ClientPeer(
                            address: address, identity: identity, name: hello.clientName,
                            port: connection.channel.remoteAddress?.port))
                }
                opened = session
                deadline.cancel()
                guard let session else {
                    if helloOverdue.value.load(ordering: .relaxed) {
                        logger.debug(
                            "closed a connection that sent no hello within \(helloDeadline.nanoseconds / 1_000_000) ms")
                    }
                    return
                }
                try await serveRequests(&frames, outbound, session: session, connectionID: connectionID, logger)
            }
            logger.debug("connection closed by client")
        } catch {
            if opened == nil, error is NIOSSLError { refused?(.tlsHandshake) }
            logger.notice("closing connection: \(error)")
        }
        connections.withLock { _ = $0.removeValue(forKey: connectionID) }
        await opened?.close()
    }

    /// Who the client is: nil without TLS; with it, the certificate's identity on TCP (refused when revoked) or
    /// ``PeerIdentity/localRoot`` on the Unix socket, which only root may use.
    private func authenticate(_ channel: any Channel, isUnixSocket: Bool) async throws(FileSystemError) -> PeerIdentity? {
        guard let tls = security.context else { return nil }
        guard isUnixSocket else { return try await tls.peerIdentity(of: channel) }
        guard let provider = channel as? any SocketOptionProvider else {
            throw FileSystemError(.permissionDenied, "cannot check the credentials of a local client")
        }
        let credentials: PeerCredentials
        do {
            credentials = try await provider.unsafeGetSocketOption(
                level: NIOBSDSocket.OptionLevel.socket, name: NIOBSDSocket.Option(rawValue: SO_PEERCRED)).get()
        } catch {
            throw FileSystemError(.permissionDenied, "cannot check the credentials of a local client: \(error)")
        }
        guard credentials.uid == 0 else {
            throw FileSystemError(
                .permissionDenied, "uid \(credentials.uid) may not use the brick's Unix socket; connect over TCP with a certificate")
        }
        return .localRoot
    }

    /// Closes every connection whose client certificate has one of `serials`; returns how many.
    @discardableResult
    public func disconnect(serials: Set<String>) -> Int {
        let doomed = connections.withLock { connections in
            connections.values.filter { serials.contains($0.serial) }.map(\.channel)
        }
        for channel in doomed { channel.close(promise: nil) }
        return doomed.count
    }

    /// Reads the hello and answers it: the session `admit` makes, or nil when the client went away or was
    /// refused (a bad hello, or `admit`'s error, which the client gets as the reason).
    private func acceptHello(
        _ frames: inout NIOAsyncChannelInboundStream<Frame>.AsyncIterator,
        _ outbound: NIOAsyncChannelOutboundWriter<Frame>, logger: Logger,
        admit: (Handshake.Hello) async throws -> any RequestSession
    ) async throws -> (any RequestSession)? {
        guard let first = try await frames.next() else { return nil }
        guard first.kind == .hello else { throw WireError("first frame was \(first.kind), not a hello") }
        var reply = ByteBuffer()
        do {
            let hello = try Handshake.Hello.decode(first.payload)
            try Handshake.check(hello)
            let session = try await admit(hello)
            Handshake.encodeAccept(into: &reply)
            do {
                try await outbound.write(Frame(kind: .helloReply, requestID: first.requestID, payload: reply))
            } catch {
                // The client left before its welcome: the session it was given ends here, as a served one would.
                await session.close()
                throw error
            }
            logger.debug("client connected", metadata: ["client.name": "\(hello.clientName)"])
            return session
        } catch let error as FileSystemError {
            Handshake.encodeReject(error, into: &reply)
            refused?(.hello)
            try await outbound.write(Frame(kind: .helloReply, requestID: first.requestID, payload: reply))
            logger.notice("rejected client: \(error.message)")
            return nil
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
                session.received(request)
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

/// An accepted connection, past ``ConnectionAdmission``'s bounds or refused (and closed) by them.
public enum Admitted<Connection: Sendable>: Sendable {
    case admitted(Connection)
    case refused
}

/// Who a connection's client is, for the session factory to admit or refuse.
public struct ClientPeer: Sendable {
    /// The client's IP address; nil on a Unix-domain socket.
    public var address: String?
    /// The client's authenticated identity; nil when the server runs without TLS.
    public var identity: PeerIdentity?
    /// The name the client gave in its hello (at most 256 bytes: ``Handshake/Hello/decode(_:)`` refuses more).
    public var name: String
    /// The client's TCP port; nil on a Unix-domain socket.
    public var port: Int?

    public init(address: String?, identity: PeerIdentity?, name: String = "", port: Int? = nil) {
        self.address = address
        self.identity = identity
        self.name = name
        self.port = port
    }

    /// How `volume status VOL clients` shows where the client is: "ADDRESS:PORT" ("[ADDRESS]:PORT" for IPv6),
    /// or "local" on the Unix socket.
    public var location: String {
        guard let address else { return "local" }
        let host = address.contains(":") ? "[\(address)]" : address
        return port.map { "\(host):\($0)" } ?? host
    }
}

/// `struct ucred` of `SO_PEERCRED`, laid out as Linux defines it.
private struct PeerCredentials: Sendable {
    var processID: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0
}

/// Set once, by the hello deadline's timer.
private final class OverdueFlag: Sendable {
    let value = Atomic(false)
}
