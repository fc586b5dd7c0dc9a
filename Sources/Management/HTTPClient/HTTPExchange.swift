#if canImport(Glibc)
import Glibc
#endif
import MortarCore
import MortarSecurity
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// One HTTP/1.1 request and its reply over a fresh connection: the management API and etcd's JSON gateway are
/// asked rarely and briefly, so a connection per request keeps the client free of pooling state. The reply body is
/// bounded, and so is the whole exchange in time.
public enum HTTPExchange {
    public struct Reply: Sendable {
        public var status: HTTPResponseStatus
        public var body: ByteBuffer

        public init(status: HTTPResponseStatus, body: ByteBuffer) {
            self.status = status
            self.body = body
        }
    }

    /// Sends `body` to `host:port` and returns the complete reply within `timeoutMilliseconds`. `server` names
    /// what listens there in every error ("the mortar daemon", "etcd"); `plainDropAdvice` is what to tell the
    /// user when a plain connection is closed without a word (a TLS server dropping it), by default where TLS
    /// credentials are looked for.
    public static func perform(
        host: String, port: Int, method: HTTPMethod, uri: String, body: ByteBuffer?, security: TransportSecurity,
        eventLoopGroup: any EventLoopGroup, server: String = "the mortar daemon",
        timeoutMilliseconds: Int64 = Limits.managementRequestTimeoutMilliseconds,
        replyByteCountMax: Int = Limits.managementMessageByteCountMax, headers: [(String, String)] = [],
        plainDropAdvice: String? = nil
    ) async throws -> Reply {
        try await withThrowingTaskGroup(of: Reply?.self) { group in
            group.addTask {
                try await exchange(
                    host: host, port: port, method: method, uri: uri, body: body, security: security,
                    group: eventLoopGroup, server: server, replyByteCountMax: replyByteCountMax, headers: headers,
                    plainDropAdvice: plainDropAdvice)
            }
            group.addTask {
                try await Task.sleep(for: .milliseconds(timeoutMilliseconds))
                return nil
            }
            defer { group.cancelAll() }
            let first: Reply??
            do {
                first = try await group.next()
            } catch where Task.isCancelled {
                throw FileSystemError(.canceled, "\(method) \(uri) to \(server) at \(host):\(port) was cancelled")
            }
            guard let first, let reply = first else {
                throw FileSystemError(
                    .timedOut,
                    "\(method) \(uri) to \(server) at \(host):\(port) got no reply within \(timeoutMilliseconds) ms")
            }
            return reply
        }
    }

    /// The connection of one exchange, closed when the task that waits for it is cancelled. NIO's connect and its
    /// async channel do not stop waiting when their task is cancelled; a connect to a host that is cut off from
    /// the network (no RST, only silence) would then hold its caller for the whole connect timeout — and a caller
    /// that raced it and lost (a view watch, an etcd member passed over) would wait for it before going on.
    /// Closing the channel ends the connect or the read at once.
    private final class Closer: Sendable {
        private let state = Mutex<(channel: (any Channel)?, cancelled: Bool)>((nil, false))

        /// Keeps `channel` to close on cancellation (at once if that already happened).
        func adopt(_ channel: any Channel) {
            let cancelled = state.withLock { state in
                state.channel = channel
                return state.cancelled
            }
            if cancelled { channel.close(promise: nil) }
        }

        func cancel() {
            let channel = state.withLock { state in
                state.cancelled = true
                return state.channel
            }
            channel?.close(promise: nil)
        }
    }

    private static func exchange(
        host: String, port: Int, method: HTTPMethod, uri: String, body: ByteBuffer?, security: TransportSecurity,
        group: any EventLoopGroup, server serverName: String, replyByteCountMax: Int, headers: [(String, String)],
        plainDropAdvice: String?
    ) async throws -> Reply {
        let closer = Closer()
        return try await withTaskCancellationHandler {
            try await exchange(
                host: host, port: port, method: method, uri: uri, body: body, security: security, group: group,
                server: serverName, replyByteCountMax: replyByteCountMax, headers: headers,
                plainDropAdvice: plainDropAdvice, closer: closer)
        } onCancel: {
            closer.cancel()
        }
    }

    private static func exchange(
        host: String, port: Int, method: HTTPMethod, uri: String, body: ByteBuffer?, security: TransportSecurity,
        group: any EventLoopGroup, server serverName: String, replyByteCountMax: Int, headers: [(String, String)],
        plainDropAdvice: String?, closer: Closer
    ) async throws -> Reply {
        let channel: NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>
        let tls = security.context
        let note = HandshakeNote()
        do {
            let bootstrap = ClientBootstrap(group: group)
                .connectTimeout(.milliseconds(Limits.connectTimeoutMilliseconds))
            let initializer: @Sendable (any Channel) -> EventLoopFuture<
                NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>
            > = { channel in
                closer.adopt(channel)
                return channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandlers(try tls.makeClientHandlers(note: note)) }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>.finishingWhenDropped(channel)
                }
            }
            // An address literal is connected to directly: NIO resolves names on a Dispatch queue, and Dispatch
            // does not work in a child forked from a process that used it (a program that called glfs_init and
            // then forked would never connect). Only a real host name goes through the resolver.
            if let address = try? SocketAddress(ipAddress: host, port: port) {
                channel = try await bootstrap.connect(to: address, channelInitializer: initializer)
            } else {
                channel = try await bootstrap.connect(host: host, port: port, channelInitializer: initializer)
            }
        } catch {
            if Task.isCancelled { throw FileSystemError(.canceled, "connecting to \(serverName) at \(host):\(port) was cancelled") }
            throw connectFailure(error, host: host, port: port, server: serverName)
        }
        let server = "\(serverName) at \(host):\(port)"
        do {
            return try await channel.executeThenClose { inbound, outbound in
            var head = HTTPRequestHead(version: .http1_1, method: method, uri: uri)
            head.headers.add(name: "Host", value: host)
            head.headers.add(name: "Content-Type", value: "application/json")
            head.headers.add(name: "Content-Length", value: "\(body?.readableBytes ?? 0)")
            head.headers.add(name: "Connection", value: "close")
            for (name, value) in headers { head.headers.add(name: name, value: value) }
            // The whole request in one write. Written part by part, the daemon could answer and close as soon as
            // the head arrived (a GET has no body), before this side had handed over its `.end`: that write then
            // failed on the closed channel and a request that had been answered in full was reported as a lost
            // connection — the random glfs_init failures.
            var parts: [HTTPClientRequestPart] = [.head(head)]
            if let body { parts.append(.body(.byteBuffer(body))) }
            parts.append(.end(nil))
            try await outbound.write(contentsOf: parts)
            return try await readReply(inbound, from: "\(host):\(port)", byteCountMax: replyByteCountMax)
            }
        } catch {
            if tls != nil, let refusal = TLSContext.refusal(error, peer: server, note: note) {
                throw FileSystemError(.permissionDenied, refusal)
            }
            let dropped = (error as? FileSystemError).map { $0.message.contains("closed the connection") } ?? true
            if tls == nil, dropped {
                // A TLS daemon drops a plain request without a word: say what was probably missing.
                let advice = plainDropAdvice
                    ?? "if it requires TLS, this client has no credentials (looked in \(TLSFiles.searchedPlaces))"
                throw FileSystemError(.connectionReset, "\(server) closed the connection without answering; \(advice)")
            }
            throw error
        }
    }

    /// A failed connection as one line without NIO's wrapping. A name that does not resolve is ENXIO "cannot
    /// resolve host" (NIO reports it as a connection error with no connection tried, whose text is a resolver dump;
    /// saying "Connection refused" after it sent people looking for a daemon that was never contacted). Anything
    /// else is ECONNREFUSED, the code callers take as "this server is unreachable, try the next", with the
    /// system's reason when it is another one (no route, timed out).
    public static func connectFailure(
        _ error: any Error, host: String, port: Int, server: String = "the mortar daemon"
    ) -> FileSystemError {
        if let connection = error as? NIOConnectionError, connection.connectionErrors.isEmpty,
            let resolver = connection.dnsAError ?? connection.dnsAAAAError
        {
            // EAI_NONAME is what a mistyped name gets; other resolver failures (no DNS server) say which.
            let detail = (resolver as? SocketAddressError.UnknownHost).flatMap { unknown in
                unknown.errorCode == Int(EAI_NONAME) ? nil : unknown.errorDescription
            }
            return FileSystemError(
                .noSuchDeviceOrAddress, "cannot resolve host '\(host)'" + (detail.map { " (\($0))" } ?? ""))
        }
        let refused = FileSystemError.Code.connectionRefused
        let reason = reason(error)
        return FileSystemError(
            refused, "cannot reach \(server) at \(host):\(port)"
                + (reason == refused.description ? "" : " (\(reason))"))
    }

    /// The system's reason for a failed connection, without NIO's wrapping.
    private static func reason(_ error: any Error) -> String {
        if let connection = error as? NIOConnectionError, let first = connection.connectionErrors.first {
            return reason(first.error)
        }
        if let system = error as? IOError {
            return FileSystemError.Code(rawValue: system.errnoCode).description
        }
        return "\(error)"
    }

    private static func readReply(
        _ inbound: NIOAsyncChannelInboundStream<HTTPClientResponsePart>, from server: String, byteCountMax: Int
    ) async throws -> Reply {
        var status: HTTPResponseStatus?
        var collected = ByteBuffer()
        for try await part in inbound {
            switch part {
            case .head(let head):
                status = head.status
            case .body(var chunk):
                guard collected.readableBytes + chunk.readableBytes <= byteCountMax else {
                    throw FileSystemError.protocolError("reply from \(server) exceeds \(byteCountMax) bytes")
                }
                collected.writeBuffer(&chunk)
            case .end:
                guard let status else {
                    throw FileSystemError.protocolError("reply from \(server) ended before its header")
                }
                return Reply(status: status, body: collected)
            }
        }
        throw FileSystemError.protocolError("\(server) closed the connection before its reply was complete")
    }
}
