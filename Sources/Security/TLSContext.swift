import MortarCore
import NIOCore
import NIOSSL
import Synchronization

/// A process's TLS setup, made once and shared by all its connections: its own certificate, the cluster CA it
/// trusts, and the revocations it has learned. Servers require a certificate of the CA from every client (mutual
/// TLS); clients accept only a server whose certificate has the host role, so nobody holding a mere client
/// certificate can pose as a brick or a daemon. TLS 1.3 only. Host names are not checked: a cluster's hosts are
/// often reached by address, and what authorizes a peer is its certificate's role, checked here.
public final class TLSContext: Sendable {
    /// This process's own identity (its certificate's name, role and serial).
    public let identity: PeerIdentity
    /// Where the credentials were read from.
    public let directory: String
    public let revocations: RevocationList
    /// When this process's certificate, and the earliest of its CA certificates, stop being valid (seconds since
    /// 1970), for `mortar health`.
    public let expiry: (certificate: Int64, authority: Int64)
    private let server: NIOSSLContext
    private let client: NIOSSLContext
    private let authorityDER: [[UInt8]]

    /// Loads `directory`'s `glusterfs.pem`, `glusterfs.key` and `glusterfs.ca` (or the files `names` names); every
    /// problem is one line naming the file.
    public init(
        directory: String, names: TLSFiles.Names = .cluster, revocations: RevocationList = RevocationList()
    ) throws(FileSystemError) {
        let credentials = try TLSCredentials(directory: directory, names: names)
        self.identity = credentials.identity
        self.directory = directory
        expiry = (
            Int64(credentials.chain.first?.notValidAfter ?? 0),
            Int64(credentials.authority.map(\.notValidAfter).min() ?? 0)
        )
        self.revocations = revocations
        var serverConfiguration = TLSConfiguration.makeServerConfiguration(
            certificateChain: credentials.chain.map { .certificate($0) }, privateKey: .privateKey(credentials.key))
        serverConfiguration.minimumTLSVersion = .tlsv13
        serverConfiguration.certificateVerification = .noHostnameVerification
        serverConfiguration.trustRoots = .certificates(credentials.authority)
        var clientConfiguration = TLSConfiguration.makeClientConfiguration()
        clientConfiguration.minimumTLSVersion = .tlsv13
        clientConfiguration.certificateVerification = .noHostnameVerification
        clientConfiguration.trustRoots = .certificates(credentials.authority)
        clientConfiguration.certificateChain = credentials.chain.map { .certificate($0) }
        clientConfiguration.privateKey = .privateKey(credentials.key)
        do {
            server = try NIOSSLContext(configuration: serverConfiguration)
            client = try NIOSSLContext(configuration: clientConfiguration)
            authorityDER = try credentials.authority.map { try $0.toDERBytes() }
        } catch {
            throw FileSystemError(.invalidArgument, "cannot use the TLS credentials in \(directory): \(error)")
        }
    }

    /// The handler a server puts first in a new connection's pipeline. The TLS session itself is made when the
    /// client's first bytes arrive (``DeferredTLSServerHandler``): a connection that never speaks costs none.
    public func makeServerHandler() -> any ChannelHandler {
        let server = self.server
        return DeferredTLSServerHandler { NIOSSLServerHandler(context: server) }
    }

    /// The handlers a client puts first in a new connection's pipeline: TLS, then one that keeps the first error
    /// TLS raised in `note` (a handshake can fail before the caller has sent anything that would carry the error
    /// back). A server whose certificate is not a host's fails the handshake; `note` keeps that reason too, for
    /// ``refusal(_:peer:note:)``.
    public func makeClientHandlers(note: HandshakeNote) throws -> [any ChannelHandler] {
        [try makeClientHandler(note: note), HandshakeErrorRecorder(note: note)]
    }

    private func makeClientHandler(note: HandshakeNote) throws -> NIOSSLClientHandler {
        let authority = authorityDER
        let verify: NIOSSLVerificationCallback = { result, certificate in
            guard result == .certificateVerified else { return .failed }
            guard let der = try? certificate.toDERBytes() else {
                note.record("the server's certificate cannot be encoded")
                return .failed
            }
            // BoringSSL asks about each certificate of the chain; the CA's own is fine by definition.
            if authority.contains(der) { return .certificateVerified }
            do {
                let identity = try PeerIdentity(derEncoded: der)
                guard identity.role == .host else {
                    note.record("the server presented \(identity), not a host certificate; only daemons and bricks hold those")
                    return .failed
                }
                return .certificateVerified
            } catch {
                note.record("the server's certificate is not a Mortar certificate: \((error as? FileSystemError)?.message ?? "\(error)")")
                return .failed
            }
        }
        return try NIOSSLClientHandler(context: client, serverHostname: nil, verificationCallback: verify)
    }

    /// The identity of the peer of a channel whose handshake has finished (the server side reads it when the first
    /// message arrives, which TLS delivers only after the handshake). Refuses a revoked certificate.
    public func peerIdentity(of channel: any Channel) async throws(FileSystemError) -> PeerIdentity {
        let certificate: NIOSSLCertificate?
        do {
            certificate = try await channel.nioSSL_peerCertificate().get()
        } catch {
            throw FileSystemError(.permissionDenied, "cannot read the peer's certificate: \(error)")
        }
        guard let certificate else { throw FileSystemError(.permissionDenied, "the peer sent no certificate") }
        let identity: PeerIdentity
        do {
            identity = try PeerIdentity(derEncoded: try certificate.toDERBytes())
        } catch let error as FileSystemError {
            throw error
        } catch {
            throw FileSystemError(.permissionDenied, "cannot read the peer's certificate: \(error)")
        }
        guard !revocations.isRevoked(identity.serial) else {
            throw FileSystemError(.permissionDenied, "certificate \(identity) is revoked")
        }
        return identity
    }

    /// What a failed connection says about TLS, as one line for the client that saw it, or nil when the failure
    /// is not one of TLS's refusals (a peer that went away is worth retrying; a refused certificate is not).
    public static func refusal(_ error: any Error, peer: String, note: HandshakeNote?) -> String? {
        if let reason = note?.reason { return "\(peer) refused: \(reason)" }
        let text = "\(error) \(note?.firstError ?? "")"
        if text.contains("CERTIFICATE_VERIFY_FAILED") {
            return "the certificate of \(peer) is not signed by this cluster's CA (or has expired)"
        }
        if text.contains("UNKNOWN_CA") || text.contains("BAD_CERTIFICATE") || text.contains("CERTIFICATE_UNKNOWN")
            || text.contains("CERTIFICATE_EXPIRED")
        {
            return "\(peer) does not accept this certificate: it was issued by another CA, or has expired"
        }
        if text.contains("CERTIFICATE_REQUIRED") || text.contains("PEER_DID_NOT_RETURN_A_CERTIFICATE") {
            return "\(peer) requires a client certificate"
        }
        if text.contains("WRONG_VERSION_NUMBER") || text.contains("PACKET_LENGTH_TOO_LONG")
            || text.contains("HTTP_REQUEST")
        {
            return "\(peer) does not speak TLS (a daemon started with --insecure, or an etcd member without TLS?)"
        }
        return nil
    }
}

/// Where a client's verification callback leaves the reason it refused a server, for the error the caller sees.
public final class HandshakeNote: Sendable {
    private let text = Mutex<String?>(nil)
    private let error = Mutex<String?>(nil)

    public init() {}

    func record(_ reason: String) { text.withLock { $0 = reason } }

    func record(error description: String) {
        error.withLock { if $0 == nil { $0 = description } }
    }

    public var reason: String? { text.withLock { $0 } }
    /// The first error the connection's TLS raised.
    var firstError: String? { error.withLock { $0 } }
}

/// Keeps the first error that reaches it in a ``HandshakeNote`` and passes every error on.
final class HandshakeErrorRecorder: ChannelInboundHandler, Sendable {
    typealias InboundIn = NIOAny
    private let note: HandshakeNote

    init(note: HandshakeNote) { self.note = note }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        note.record(error: "\(error)")
        context.fireErrorCaught(error)
    }
}

/// How a process's connections are protected: TLS with its credentials, or nothing (a daemon started with
/// `--insecure`, a client with no credentials).
public enum TransportSecurity: Sendable {
    case tls(TLSContext)
    case insecure

    public var context: TLSContext? {
        if case .tls(let context) = self { return context }
        return nil
    }

    /// A client's security: its located credentials, or none. A directory that was named (or found) but cannot be
    /// used is an error, not a silent fall back to plain connections.
    public static func client(explicitDirectory: String?) throws(FileSystemError) -> TransportSecurity {
        switch TLSFiles.locate(explicit: explicitDirectory) {
        case .found(let directory): return .tls(try TLSContext(directory: directory))
        case .disabled, .none: return .insecure
        }
    }
}
