import Logging
import MortarCore
import MortarSecurity
import NIOCore
import NIOHTTP1
import NIOPosix

/// `GET /metrics` for a process that is not the daemon (the FUSE mount's `-o metrics=HOST:PORT`): plain HTTP, like
/// every Prometheus exporter, answered with `exposition()` at each scrape. The listener is the daemon's own
/// (``ManagementServer``): connections and request sizes bounded, a slow or malformed request closed.
public struct MetricsExporter: Sendable {
    private let server: ManagementServer
    private let responder: ExpositionResponder

    /// Binds `host:port`; serving begins with ``serve()``.
    public static func bind(
        host: String, port: Int, eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger, exposition: @escaping @Sendable () async -> String
    ) async throws(FileSystemError) -> MetricsExporter {
        let server = try await ManagementServer.bind(
            host: host, port: port, requestTimeoutMilliseconds: Limits.managementRequestReadMilliseconds,
            security: .insecure, group: eventLoopGroup, logger: logger)
        logger.info("serving metrics", metadata: ["address": "\(host):\(server.port)"])
        return MetricsExporter(server: server, responder: ExpositionResponder(exposition: exposition))
    }

    /// The port bound (useful when bound to port 0).
    public var port: Int { server.port }

    /// Answers scrapes until ``close()``.
    public func serve() async { await server.serve(responder) }

    public func close() { server.close() }
}

/// Answers `GET /metrics` (and `HEAD`) with an exposition; anything else with 404 or 405.
struct ExpositionResponder: HTTPResponder {
    let exposition: @Sendable () async -> String

    func respond(method: HTTPMethod, uri: String, body: ByteBuffer, identity: PeerIdentity?) async -> Response {
        let path = uri.split(separator: "?", maxSplits: 1).first ?? ""
        guard path == "/metrics" else {
            return Response(status: .notFound, body: ByteBuffer(string: "the metrics are at /metrics\n"), contentType: "text/plain")
        }
        guard method == .GET || method == .HEAD else {
            return Response(status: .methodNotAllowed, body: ByteBuffer(string: "GET /metrics\n"), contentType: "text/plain")
        }
        return Response(
            status: .ok, body: ByteBuffer(string: await exposition()), contentType: "text/plain; version=0.0.4; charset=utf-8")
    }

    func failure(_ error: any Error) -> Response {
        Response(status: .badRequest, body: ByteBuffer(string: "\(error)\n"), contentType: "text/plain")
    }
}
