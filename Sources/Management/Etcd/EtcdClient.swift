import Foundation
import MortarCore
import MortarHTTPClient
import MortarSecurity
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A client of an etcd cluster through its v3 JSON gateway (HTTP/1.1 on each member's client port). A call goes
/// to the member that answered last; a member that cannot be reached, times out or has no leader is passed over
/// for the next, and the call fails only when every member failed once: with the last error, naming etcd.
///
/// Every call is one request; none is retried on the same member. A write whose reply was lost may have been
/// applied: callers make writes conditional (``transaction(_:success:failure:)`` comparing revisions) so that
/// repeating one is safe.
public struct EtcdClient: Sendable {
    public let endpoints: [EtcdEndpoint]
    /// What the client presents to members reached with `https://`: a host's credentials towards etcd
    /// (`TLSFiles.Names.etcd`, signed by the cluster's etcd CA; etcd admits no other).
    private let security: TransportSecurity
    private let eventLoopGroup: any EventLoopGroup
    private var timeoutMilliseconds: Int64
    /// Which member to ask first: the last one that answered.
    private let preferred: Preference

    private final class Preference: Sendable {
        let index = Atomic<Int>(0)
    }

    /// A client of the members at `endpoints`; `security` holds the host's etcd credentials that members reached
    /// with `https://` require (with none, calls to them fail naming what is missing).
    public init(
        endpoints: [EtcdEndpoint], security: TransportSecurity = .insecure,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        timeoutMilliseconds: Int64 = Limits.etcdRequestTimeoutMilliseconds
    ) {
        precondition(!endpoints.isEmpty, "an etcd client needs at least one endpoint")
        self.endpoints = endpoints
        self.security = security
        self.eventLoopGroup = eventLoopGroup
        self.timeoutMilliseconds = timeoutMilliseconds
        preferred = Preference()
    }

    /// This client with another per-member timeout, sharing which member is asked first.
    public func timingOut(afterMilliseconds milliseconds: Int64) -> EtcdClient {
        var copy = self
        copy.timeoutMilliseconds = milliseconds
        return copy
    }

    // MARK: Keys

    /// The key's current value, or nil when it does not exist.
    public func get(_ key: String) async throws(FileSystemError) -> EtcdKeyValue? {
        let request = "a read of \(key)"
        let reply = try await call(
            "/v3/kv/range", EtcdGateway.RangeRequest(key: EtcdGateway.base64(key)), EtcdGateway.RangeReply.self,
            request: request)
        return try EtcdGateway.keyValues(reply, request: request).first
    }

    /// Writes `value` under `key` unconditionally; returns the store's revision after the write.
    @discardableResult
    public func put(_ key: String, _ value: [UInt8], lease: Int64? = nil) async throws(FileSystemError) -> Int64 {
        let request = "a write of \(key)"
        let reply = try await call(
            "/v3/kv/put",
            EtcdGateway.PutRequest(
                key: EtcdGateway.base64(key), value: EtcdGateway.base64(value), lease: lease.map(String.init)),
            EtcdGateway.WriteReply.self, request: request, changes: true)
        return try EtcdGateway.revision(reply.header, request: request)
    }

    /// Deletes `key`; deleting a key that does not exist is not an error.
    public func delete(_ key: String) async throws(FileSystemError) {
        _ = try await call(
            "/v3/kv/deleterange", EtcdGateway.DeleteRequest(key: EtcdGateway.base64(key)),
            EtcdGateway.WriteReply.self, request: "a delete of \(key)", changes: true)
    }

    /// Runs `success` if every condition holds, else `failure`, atomically.
    public func transaction(
        _ conditions: [EtcdCompare], success: [EtcdOperation], failure: [EtcdOperation] = []
    ) async throws(FileSystemError) -> EtcdTransactionResult {
        let request = "a transaction"
        let reply = try await call(
            "/v3/kv/txn",
            EtcdGateway.TxnRequest(
                compare: conditions.map(EtcdGateway.compare), success: success.map(EtcdGateway.operation),
                failure: failure.map(EtcdGateway.operation)),
            EtcdGateway.TxnReply.self, request: request, changes: !(success + failure).allSatisfy(\.isRead))
        let succeeded = reply.succeeded ?? false
        let branch = succeeded ? success : failure
        let responses = reply.responses ?? []
        guard responses.count == branch.count else {
            throw FileSystemError.protocolError(
                "etcd answered a transaction of \(branch.count) operations with \(responses.count) results")
        }
        var reads: [[EtcdKeyValue]] = []
        for response in responses { reads.append(try EtcdGateway.keyValues(response.response_range, request: request)) }
        return EtcdTransactionResult(
            succeeded: succeeded, revision: try EtcdGateway.revision(reply.header, request: request), reads: reads)
    }

    // MARK: Leases

    /// A new lease that lives `ttlSeconds` unless kept alive.
    public func grantLease(ttlSeconds: Int64) async throws(FileSystemError) -> EtcdLease {
        let request = "a lease grant"
        let reply = try await call(
            "/v3/lease/grant", EtcdGateway.LeaseGrantRequest(TTL: ttlSeconds), EtcdGateway.LeaseGrantReply.self,
            request: request)
        if let error = reply.error, !error.isEmpty {
            throw FileSystemError(.inputOutput, "etcd refused a lease: \(error)")
        }
        let id = try EtcdGateway.integer(reply.ID, "ID", request: request)
        guard id != 0 else { throw FileSystemError.protocolError("etcd granted a lease without an ID") }
        return EtcdLease(id: id, ttlSeconds: try EtcdGateway.integer(reply.TTL, "TTL", request: request))
    }

    /// Renews `lease`; returns the seconds it now has left, 0 when it has already expired (it cannot come back).
    public func keepAlive(_ lease: Int64) async throws(FileSystemError) -> Int64 {
        let request = "a lease renewal"
        let reply = try await call(
            "/v3/lease/keepalive", EtcdGateway.LeaseIDRequest(ID: String(lease)), EtcdGateway.KeepAliveReply.self,
            request: request)
        guard let result = reply.result else {
            throw FileSystemError.protocolError("etcd answered a lease renewal without a result")
        }
        return try EtcdGateway.integer(result.TTL, "TTL", request: request)
    }

    /// Ends `lease` now, deleting its keys; a lease that already expired is not an error.
    public func revokeLease(_ lease: Int64) async throws(FileSystemError) {
        do {
            _ = try await call(
                "/v3/lease/revoke", EtcdGateway.LeaseIDRequest(ID: String(lease)), EtcdGateway.WriteReply.self,
                request: "a lease revocation")
        } catch where error.code == .notFound {
            return
        }
    }

    // MARK: Transport

    /// Asks etcd to refuse a request at once ("no leader") when the member has no leader, instead of holding it
    /// until a leader is elected or the request times out: the client then tries the next member, and a caller
    /// without quorum learns so quickly. The gateway passes `Grpc-Metadata-*` headers on as gRPC metadata, and
    /// `hasleader` is the key etcd's own client sets for this.
    static let requireLeader = ("Grpc-Metadata-Hasleader", "true")

    /// Sends `body` to the members in turn, starting with the preferred one, until one answers. A request that
    /// `changes` something and fails after a member may have taken it in (it timed out, or the connection was lost
    /// before the reply) says that it may still be applied: a leader that has lost its quorum keeps what it
    /// accepted in its log, and Raft commits it when a majority is back.
    private func call<Body: Encodable, Reply: Decodable>(
        _ uri: String, _ body: Body, _ type: Reply.Type, request: String, changes: Bool = false
    ) async throws(FileSystemError) -> Reply {
        let payload: ByteBuffer
        do {
            payload = ByteBuffer(bytes: try JSONEncoder().encode(body))
        } catch {
            throw FileSystemError.invalidArgument("cannot encode \(request) for etcd: \(error)")
        }
        let first = preferred.index.load(ordering: .relaxed) % endpoints.count
        var lastFailure = FileSystemError(.notConnected, "etcd: no member tried")
        var mayHaveLanded = false
        for step in 0..<endpoints.count {
            let index = (first + step) % endpoints.count
            let endpoint = endpoints[index]
            let security: TransportSecurity
            if endpoint.secure {
                guard let context = self.security.context else {
                    throw FileSystemError(
                        .permissionDenied,
                        "etcd at \(endpoint) requires TLS and this process has no etcd certificate to present (a daemon started with --insecure?)")
                }
                security = .tls(context)
            } else {
                security = .insecure
            }
            do {
                let reply = try await HTTPExchange.perform(
                    host: endpoint.host, port: endpoint.port, method: .POST, uri: uri, body: payload,
                    security: security, eventLoopGroup: eventLoopGroup, server: "etcd",
                    timeoutMilliseconds: timeoutMilliseconds, replyByteCountMax: Limits.etcdReplyByteCountMax,
                    headers: [Self.requireLeader],
                    plainDropAdvice: "if it requires TLS, give its URL as https://")
                let bytes = [UInt8](buffer: reply.body)
                guard reply.status == .ok else {
                    let failure = Self.failure(reply.status, bytes, endpoint: endpoint, request: request)
                    guard failure.passOver else { throw failure.error }
                    lastFailure = failure.error
                    // etcd's words for a request it refused before proposing it; any other unavailability (a
                    // proposal that timed out) may yet be committed.
                    mayHaveLanded = mayHaveLanded || !failure.error.message.contains("no leader")
                    continue
                }
                preferred.index.store(index, ordering: .relaxed)
                return try EtcdGateway.decode(type, bytes, request: request)
            } catch let error as FileSystemError {
                switch error.code {
                case .connectionRefused, .connectionReset, .timedOut, .noSuchDeviceOrAddress, .notConnected:
                    lastFailure = FileSystemError(error.code, "etcd: \(error.message)")
                    mayHaveLanded = mayHaveLanded || error.code == .timedOut || error.code == .connectionReset
                    continue
                case .permissionDenied where endpoint.secure:
                    // TLS refused this member or this member refused us: another member may be set up right.
                    lastFailure = FileSystemError(
                        .permissionDenied,
                        "etcd: \(error.message) (etcd admits only the certificates of the cluster's etcd CA, which `mortar cert issue NAME --role host` writes as \(TLSFiles.Names.etcd.certificate) and \(TLSFiles.Names.etcd.privateKey))")
                    continue
                default:
                    throw error
                }
            } catch {
                if Task.isCancelled { throw FileSystemError(.canceled, "\(request) to etcd was cancelled") }
                lastFailure = FileSystemError(.connectionReset, "etcd at \(endpoint): \(error)")
            }
        }
        let caution = changes && mayHaveLanded
            ? " (etcd may still apply it once it has quorum again: look before repeating it)" : ""
        if endpoints.count > 1 {
            throw FileSystemError(
                lastFailure.code,
                "no etcd member of \(endpoints.count) could serve \(request); last: \(lastFailure.message)\(caution)")
        }
        throw FileSystemError(lastFailure.code, lastFailure.message + caution)
    }

    /// An error reply as a typed error, and whether another member may do better.
    static func failure(
        _ status: HTTPResponseStatus, _ bytes: [UInt8], endpoint: EtcdEndpoint, request: String
    ) -> (error: FileSystemError, passOver: Bool) {
        // An error body that is not JSON is still an error: its status says which.
        let reply = try? EtcdGateway.decode(EtcdGateway.ErrorReply.self, bytes, request: request)
        let text = reply?.message ?? reply?.error ?? "HTTP \(status.code)"
        let code = reply?.code ?? -1
        if EtcdGateway.unavailableCodes.contains(code) || status == .serviceUnavailable {
            return (FileSystemError(.notConnected, "etcd at \(endpoint) cannot serve \(request): \(text)"), true)
        }
        // gRPC NotFound: a lease or key that does not exist.
        let errno: FileSystemError.Code = code == 5 ? .notFound : .inputOutput
        return (FileSystemError(errno, "etcd refused \(request): \(text)"), false)
    }
}
