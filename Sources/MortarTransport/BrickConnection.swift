import Logging
import MortarCore
import MortarSecurity
import MortarWire
import NIOCore
import NIOPosix
import NIOSSL

/// One client connection to a brick, shared by every open file on that brick. Many requests are in flight at
/// once (bounded by `Limits.requestsInFlightPerConnectionMax`); replies complete them in any order.
public final class BrickConnection: Sendable {
    public let endpoint: Endpoint
    private let channel: any Channel
    private let slots = AsyncSemaphore(value: Limits.requestsInFlightPerConnectionMax)

    private init(endpoint: Endpoint, channel: any Channel) {
        self.endpoint = endpoint
        self.channel = channel
    }

    /// One request on a connection of its own, all of it — connecting, the handshake, the answer — within
    /// `limit`; the connection is closed afterwards. For the daemon's and the CLI's questions to bricks (metrics,
    /// profile, top, clients, `statfs`): a brick that accepts connections but hangs fails here in time.
    public static func callOnce(
        _ request: Request, to endpoint: Endpoint, clientName: String, security: TransportSecurity,
        eventLoopGroup: any EventLoopGroup, within limit: Duration
    ) async throws -> Reply {
        try await withDeadline(limit, "an answer from brick \(endpoint)") {
            let connection = try await connect(
                to: endpoint, clientName: clientName, security: security, eventLoopGroup: eventLoopGroup,
                requestTimeout: TimeAmount(limit))
            defer { connection.close() }
            return try await connection.call(request, credentials: WireCredentials(OperationContext()))
        }
    }

    /// Connects, performs the handshake and returns a ready connection. Fails with ECONNREFUSED/ENOTCONN naming
    /// the endpoint, with EACCES and the reason when TLS fails (an unknown CA, a server that is not a host), or
    /// with the brick's reason when it rejects the hello. TCP connections use TLS when `security` has
    /// credentials; a Unix socket never does (the brick checks the peer's uid instead).
    public static func connect(
        to endpoint: Endpoint, clientName: String, security: TransportSecurity, eventLoopGroup: any EventLoopGroup,
        requestTimeout: TimeAmount = .milliseconds(Limits.requestTimeoutMilliseconds)
    ) async throws -> BrickConnection {
        let description = endpoint.description
        var tls: TLSContext?
        if case .tcp = endpoint { tls = security.context }
        let note = HandshakeNote()
        let bootstrap = ClientBootstrap(group: eventLoopGroup)
            .connectTimeout(.milliseconds(Limits.connectTimeoutMilliseconds))
            .channelOption(.recvAllocator, value: TransportTuning.receiveAllocator)
            .channelInitializer { [tls] channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    if let tls {
                        try pipeline.addHandlers(try tls.makeClientHandlers(note: note))
                        try pipeline.addHandlers([TLSWriteSplitter(), FrameAssembler()])
                    } else {
                        try pipeline.addHandler(ByteToMessageHandler(FrameDecoder()))
                    }
                    try pipeline.addHandlers([
                        FrameEncoder(), RequestMultiplexer(peerDescription: description, requestTimeout: requestTimeout),
                    ])
                }
            }
        let channel: any Channel
        do {
            switch endpoint {
            case .tcp(let host, let port):
                let tcp = bootstrap.channelOption(.socketOption(.tcp_nodelay), value: 1)
                // Address literals skip NIO's resolver, which runs on Dispatch and hangs in a forked child.
                if let address = try? SocketAddress(ipAddress: host, port: port) {
                    channel = try await tcp.connect(to: address).get()
                } else {
                    channel = try await tcp.connect(host: host, port: port).get()
                }
            case .unixSocket(let path):
                channel = try await bootstrap.connect(unixDomainSocketPath: path).get()
            }
        } catch {
            throw FileSystemError(.connectionRefused, "cannot connect to brick \(description): \(error)")
        }
        let connection = BrickConnection(endpoint: endpoint, channel: channel)
        do {
            try await connection.handshake(clientName: clientName)
        } catch {
            // The hello is the first thing sent: a TLS refusal surfaces as the failure of the call that carried it.
            connection.close()
            if tls != nil, let refusal = TLSContext.refusal(error, peer: "brick \(description)", note: note) {
                throw FileSystemError(.permissionDenied, refusal)
            }
            throw error
        }
        if let tls {
            // The handshake has finished (the hello's answer came through it): a server whose certificate this
            // process knows to be revoked is refused here.
            do {
                _ = try await tls.peerIdentity(of: channel)
            } catch {
                connection.close()
                throw FileSystemError(.permissionDenied, "brick \(description): \(error.message)")
            }
        }
        return connection
    }

    private func handshake(clientName: String) async throws {
        var payload = channel.allocator.buffer(capacity: 64)
        Handshake.Hello(clientName: clientName).encode(into: &payload)
        let reply = try await send(kind: .hello, payload: payload)
        guard reply.kind == .helloReply else {
            throw FileSystemError.protocolError("brick \(endpoint) answered the hello with a \(reply.kind) frame")
        }
        _ = try Handshake.decodeReply(reply.payload)
    }

    /// Whether the connection is still open; a closed one is replaced by the protocol client.
    public var isActive: Bool { channel.isActive }

    /// Sends a request and waits for its reply. A failed reply is thrown as the brick's ``FileSystemError``. With
    /// a `watch`, a reply that is slow to come has the watch decide whether to go on waiting (``ReplyWatch``).
    public func call(_ request: Request, credentials: WireCredentials, watch: ReplyWatch? = nil) async throws -> Reply {
        var payload = channel.allocator.buffer(capacity: 96)
        let trailer = request.encodeHead(credentials: credentials, into: &payload)
        await slots.acquire()
        defer { slots.release() }
        var waitsIndefinitely = false
        var isLock = false
        if case .lock(_, _, let wait) = request {
            waitsIndefinitely = wait
            isLock = true
        }
        // A lock the caller stopped waiting for could still be granted, and nobody would release it: lock calls
        // wait for their answer even when cancelled (the mount polls instead, so its interrupts stay prompt).
        // An open the caller gives up on is released when its reply comes (see AbandonedOpens).
        var orphan: (@Sendable (Frame) -> Void)?
        if request.opensFile {
            orphan = { @Sendable [self] frame in releaseAbandoned(frame, credentials: credentials) }
        }
        let frame = try await send(
            kind: .request, payload: payload, trailer: trailer, waitsIndefinitely: waitsIndefinitely,
            cancellable: !isLock, watch: watch, orphan: orphan)
        switch frame.kind {
        case .reply: return try Reply.decode(frame.payload)
        case .errorReply: throw try ErrorReply.decode(frame.payload)
        default: throw FileSystemError.protocolError("brick \(endpoint) answered with a \(frame.kind) frame")
        }
    }

    /// Sends a request whose answer cannot change what the caller does next, and returns once it is handed to the
    /// channel, without waiting for the reply: a release (the handle is gone either way — the brick releases it, or
    /// never had it, or dropped it with the connection that owned it). Still bounded: the request holds one of the
    /// connection's slots until its reply comes or the connection closes, and the reply, error or not, is dropped.
    /// The brick counts a release from the moment it reads it, so a request sent after this one finds the handle
    /// gone (see `RequestSession.received(_:)`).
    public func post(_ request: Request, credentials: WireCredentials) async {
        var payload = channel.allocator.buffer(capacity: 96)
        let trailer = request.encodeHead(credentials: credentials, into: &payload)
        await slots.acquire()
        guard channel.isActive else {
            slots.release()
            return
        }
        dispatch(kind: .request, payload: payload, trailer: trailer).futureResult.whenComplete { [slots] _ in
            slots.release()
        }
    }

    /// Hands a call to the channel. Its reply completes the returned promise; a write the channel refuses (it
    /// closed meanwhile) never reaches the multiplexer, which would otherwise be the one to fail the call, so the
    /// refusal fails it here — without this the caller would wait forever. (A promise completed twice keeps its
    /// first result.)
    private func dispatch(
        kind: FrameKind, payload: ByteBuffer, trailer: ByteBuffer?, waitsIndefinitely: Bool = false,
        overdue: OverdueNotice? = nil
    ) -> EventLoopPromise<Frame> {
        let promise = channel.eventLoop.makePromise(of: Frame.self)
        let written = channel.eventLoop.makePromise(of: Void.self)
        let endpoint = self.endpoint
        written.futureResult.whenFailure { error in
            promise.fail(FileSystemError(.notConnected, "cannot send to brick \(endpoint): \(error)"))
        }
        let call = PendingCall(
            kind: kind, payload: payload, trailer: trailer, promise: promise, waitsIndefinitely: waitsIndefinitely,
            overdue: overdue)
        channel.writeAndFlush(call, promise: written)
        return promise
    }

    /// Sends a frame and waits for its answer. A caller that gives up (cancelled, or abandoned by its `watch`)
    /// stops waiting at once; with `orphan`, a reply that comes after that goes to it, and to nobody otherwise.
    private func send(
        kind: FrameKind, payload: ByteBuffer, trailer: ByteBuffer? = nil, waitsIndefinitely: Bool = false,
        cancellable: Bool = true, watch: ReplyWatch? = nil, orphan: (@Sendable (Frame) -> Void)? = nil
    ) async throws -> Frame {
        guard channel.isActive else {
            throw FileSystemError(.notConnected, "the connection to brick \(endpoint) is closed")
        }
        let waiter = watch.map { _ in ReplyWaiter() }
        let wire = dispatch(
            kind: kind, payload: payload, trailer: trailer, waitsIndefinitely: waitsIndefinitely,
            overdue: watch.map { watch in
                OverdueNotice(after: TimeAmount(watch.grace)) { [waiter] in waiter?.noticeOverdue() }
            })
        let pending = orphan.map { PendingReply(wire, orphan: $0) } ?? PendingReply(wire)
        let endpoint = self.endpoint
        guard let watch, let waiter else {
            guard cancellable else { return try await pending.promise.futureResult.get() }
            return try await withTaskCancellationHandler {
                try await pending.promise.futureResult.get()
            } onCancel: {
                pending.giveUp(FileSystemError(.canceled, "the call to brick \(endpoint) was cancelled"))
            }
        }
        pending.promise.futureResult.whenComplete { waiter.received($0) }
        guard cancellable else { return try await Self.awaitWatched(pending, waiter: waiter, watch: watch) }
        // A cancelled caller stops waiting at once: a task group that cancels a call to a member that is cut off
        // must not wait for the whole request timeout to await it.
        return try await withTaskCancellationHandler {
            try await Self.awaitWatched(pending, waiter: waiter, watch: watch)
        } onCancel: {
            pending.giveUp(FileSystemError(.canceled, "the call to brick \(endpoint) was cancelled"))
        }
    }

    /// Waits for a watched call's reply; each time the multiplexer says it is overdue, asks the watch, whose error
    /// ends the call.
    private static func awaitWatched(_ pending: PendingReply, waiter: ReplyWaiter, watch: ReplyWatch) async throws
        -> Frame
    {
        while true {
            switch await waiter.next() {
            case .reply(let result):
                return try result.get()
            case .overdue:
                guard let abandoned = await watch.check() else { continue }
                // Done either way: a reply that came while the check ran wins (giving up on a completed call does
                // nothing); otherwise the call ends with the watch's error. Not back to the waiter, whose queue may
                // hold more overdue notices from a loaded loop, each of which would ask the watch again.
                pending.giveUp(abandoned)
                return try await pending.promise.futureResult.get()
            }
        }
    }

    /// Releases the file an abandoned call's late reply opened. Sent without a slot of its own: there is one such
    /// release per abandoned open, whose call held a slot until it gave up. Its answer is dropped.
    private func releaseAbandoned(_ frame: Frame, credentials: WireCredentials) {
        guard let file = Self.openedFile(in: frame), channel.isActive else { return }
        var payload = channel.allocator.buffer(capacity: 64)
        let trailer = Request.release(file).encodeHead(credentials: credentials, into: &payload)
        _ = dispatch(kind: .request, payload: payload, trailer: trailer)
    }

    /// Closes the connection; calls in flight fail with ENOTCONN.
    public func close() {
        channel.close(promise: nil)
    }
}
