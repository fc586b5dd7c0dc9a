import Logging
import MortarCore
import MortarSecurity
import NIOCore
import NIOHTTP1

extension ManagementServer {
    /// Reads one request, answers it and closes the connection. Garbage or an oversized body ends the
    /// connection without an answer; either way the reason is logged.
    func handle(_ connection: Connection, router: some HTTPResponder) async {
        let peer = connection.channel.remoteAddress.map { "\($0)" } ?? "unknown"
        do {
            try await connection.executeThenClose { inbound, outbound in
                guard let (head, body) = try await readRequestBeforeDeadline(inbound, from: peer) else { return }
                let response: Response
                do {
                    // The request arrived, so the handshake is done and the client's certificate known.
                    let identity = try await security.context?.peerIdentity(of: connection.channel)
                    response = await router.respond(method: head.method, uri: head.uri, body: body, identity: identity)
                } catch {
                    logger.notice("refused a management client", metadata: ["peer": "\(peer)", "reason": "\(error)"])
                    response = router.failure(error)
                }
                var headers = HTTPHeaders()
                headers.add(name: "Content-Type", value: response.contentType)
                headers.add(name: "Content-Length", value: "\(response.body.readableBytes)")
                headers.add(name: "Connection", value: "close")
                // One write for the whole response: the client closes as soon as it has the body it was promised
                // (Content-Length), so an `.end` written separately could find the channel closed.
                try await outbound.write(contentsOf: [
                    .head(HTTPResponseHead(version: head.version, status: response.status, headers: headers)),
                    .body(.byteBuffer(response.body)),
                    .end(nil),
                ])
            }
        } catch {
            logger.notice("closed management connection", metadata: ["peer": "\(peer)", "reason": "\(error)"])
        }
    }

    private enum ReadOutcome: Sendable {
        case request(HTTPRequestHead, ByteBuffer)
        case closed
        case timedOut
    }

    /// ``readRequest(_:from:)`` bounded by ``requestTimeoutMilliseconds``: a client that connects and then sends
    /// nothing, or trickles a request, must not hold one of the few connection slots for ever.
    private func readRequestBeforeDeadline(
        _ inbound: NIOAsyncChannelInboundStream<HTTPServerRequestPart>, from peer: String
    ) async throws -> (HTTPRequestHead, ByteBuffer)? {
        let outcome = try await withThrowingTaskGroup(of: ReadOutcome.self) { group in
            group.addTask {
                guard let (head, body) = try await readRequest(inbound, from: peer) else { return .closed }
                return .request(head, body)
            }
            group.addTask {
                try await Task.sleep(for: .milliseconds(requestTimeoutMilliseconds))
                return .timedOut
            }
            defer { group.cancelAll() }
            return try await group.next() ?? .closed
        }
        switch outcome {
        case .request(let head, let body): return (head, body)
        case .closed: return nil
        case .timedOut:
            throw FileSystemError(.timedOut, "no complete request within \(requestTimeoutMilliseconds) ms")
        }
    }

    /// The request's head and complete body, or nil when the client went away before sending a whole request.
    private func readRequest(
        _ inbound: NIOAsyncChannelInboundStream<HTTPServerRequestPart>, from peer: String
    ) async throws -> (HTTPRequestHead, ByteBuffer)? {
        var head: HTTPRequestHead?
        var body = ByteBuffer()
        for try await part in inbound {
            switch part {
            case .head(let requestHead):
                if let length = requestHead.headers.first(name: "Content-Length").flatMap(Int.init),
                    length > Limits.managementMessageByteCountMax
                {
                    throw FileSystemError.invalidArgument(
                        "request body of \(length) bytes exceeds \(Limits.managementMessageByteCountMax)")
                }
                head = requestHead
            case .body(var chunk):
                guard body.readableBytes + chunk.readableBytes <= Limits.managementMessageByteCountMax else {
                    throw FileSystemError.invalidArgument(
                        "request body exceeds \(Limits.managementMessageByteCountMax) bytes")
                }
                body.writeBuffer(&chunk)
            case .end:
                guard let head else { throw FileSystemError.protocolError("request ended before its head") }
                return (head, body)
            }
        }
        logger.debug("management client left before its request was complete", metadata: ["peer": "\(peer)"])
        return nil
    }
}
