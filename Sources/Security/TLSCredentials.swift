import Foundation
import MortarCore
import NIOSSL

/// Where a process finds its certificate, key and CA, under the file names GlusterFS uses: `glusterfs.pem` (the
/// certificate), `glusterfs.key` (its private key) and `glusterfs.ca` (the cluster CA's certificate), so a client
/// set up for a TLS GlusterFS volume finds what it needs in the same place.
public enum TLSFiles {
    public static let certificate = Names.cluster.certificate
    public static let privateKey = Names.cluster.privateKey
    public static let authority = Names.cluster.authority

    /// The three files of one set of credentials in a directory.
    public struct Names: Sendable, Hashable {
        public var certificate: String
        public var privateKey: String
        public var authority: String

        /// A process's credentials in the cluster, signed by the cluster CA (GlusterFS's file names).
        public static let cluster = Names(certificate: "glusterfs.pem", privateKey: "glusterfs.key", authority: "glusterfs.ca")
        /// A host's credentials towards etcd, signed by the cluster's etcd CA, whose certificates only hosts get:
        /// etcd admits every certificate of the CA it trusts, so it must not trust the one that also signs users'
        /// and applications' certificates.
        public static let etcd = Names(certificate: "etcd.pem", privateKey: "etcd.key", authority: "etcd-ca.pem")
    }

    /// The environment variable naming a directory of credentials; `off` means "connect without TLS".
    public static let directoryVariable = "MORTAR_TLS_DIR"
    /// GlusterFS's own places for them: `/etc/ssl` as GlusterFS documents it, and `/usr/lib/ssl`, where the
    /// GlusterFS that Debian and Ubuntu ship looks (its OpenSSL directory), so clients set up for either find theirs.
    public static let systemDirectories = ["/etc/ssl", "/usr/lib/ssl"]

    /// Where `mortar up` puts the local admin's credentials, and where the CLI looks for them: the user's
    /// configuration directory (`$XDG_CONFIG_HOME/mortar/tls`, else `~/.config/mortar/tls`).
    public static func userDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if let base = environment["XDG_CONFIG_HOME"], base.hasPrefix("/") { return base + "/mortar/tls" }
        // A daemon's child (smbd, tgtd) may run without HOME: the account's home directory then, as ssh finds ~.
        let home = environment["HOME"] ?? getpwuid(geteuid()).flatMap { $0.pointee.pw_dir.map { String(cString: $0) } }
        guard let home, home.hasPrefix("/") else { return nil }
        return home + "/.config/mortar/tls"
    }

    /// What a client process uses, in this order: `explicit` (a `--tls-dir` flag, `-o tls_dir=`, an option of
    /// `Volume.connect`), `$MORTAR_TLS_DIR`, the user directory, then `/etc/ssl` and `/usr/lib/ssl` — the first
    /// that holds a certificate. Nil means no credentials: the client connects without TLS (and a TLS server
    /// refuses it, saying so). `MORTAR_TLS_DIR=off` asks for that explicitly.
    public static func locate(
        explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
        systemDirectories: [String] = systemDirectories
    ) -> Lookup {
        if let explicit { return explicit == "off" ? .disabled : .found(explicit) }
        if let variable = environment[directoryVariable], !variable.isEmpty {
            return variable == "off" ? .disabled : .found(variable)
        }
        for candidate in [userDirectory(environment: environment)].compactMap({ $0 }) + systemDirectories {
            if FileManager.default.fileExists(atPath: candidate + "/" + certificate) { return .found(candidate) }
        }
        return .none
    }

    public enum Lookup: Sendable, Equatable {
        case found(String)
        case disabled
        case none
    }

    /// The places ``locate(explicit:environment:)`` looked, for an error message.
    public static var searchedPlaces: String {
        "\(directoryVariable), \(userDirectory() ?? "~/.config/mortar/tls"), "
            + systemDirectories.map { $0 + "/glusterfs.*" }.joined(separator: " and ")
    }
}

/// A certificate, its key and the CA that signed the cluster's certificates, loaded from a directory.
struct TLSCredentials {
    var chain: [NIOSSLCertificate]
    var key: NIOSSLPrivateKey
    var authority: [NIOSSLCertificate]
    var identity: PeerIdentity

    init(directory: String, names: TLSFiles.Names = .cluster) throws(FileSystemError) {
        func path(_ name: String) -> String { directory + "/" + name }
        for name in [names.certificate, names.privateKey, names.authority] {
            guard FileManager.default.fileExists(atPath: path(name)) else {
                throw FileSystemError(.notFound, "no \(name) in \(directory) (TLS credentials: \(names.certificate), \(names.privateKey), \(names.authority))")
            }
        }
        do {
            chain = try NIOSSLCertificate.fromPEMFile(path(names.certificate))
        } catch {
            throw FileSystemError(.invalidArgument, "cannot read the certificate \(path(names.certificate)): \(error)")
        }
        do {
            key = try NIOSSLPrivateKey(file: path(names.privateKey), format: .pem)
        } catch {
            throw FileSystemError(.invalidArgument, "cannot read the private key \(path(names.privateKey)): \(error)")
        }
        do {
            authority = try NIOSSLCertificate.fromPEMFile(path(names.authority))
        } catch {
            throw FileSystemError(.invalidArgument, "cannot read the CA certificate \(path(names.authority)): \(error)")
        }
        guard let leaf = chain.first else {
            throw FileSystemError(.invalidArgument, "\(path(names.certificate)) holds no certificate")
        }
        guard !authority.isEmpty else {
            throw FileSystemError(.invalidArgument, "\(path(names.authority)) holds no certificate")
        }
        do {
            identity = try PeerIdentity(derEncoded: try leaf.toDERBytes())
        } catch let error as FileSystemError {
            throw FileSystemError(.invalidArgument, "\(path(names.certificate)): \(error.message)")
        } catch {
            throw FileSystemError(.invalidArgument, "\(path(names.certificate)): \(error)")
        }
        if leaf.notValidAfter < time(nil) {
            throw FileSystemError(.invalidArgument, "certificate \(identity) in \(directory) expired; issue a new one with `mortar cert issue`")
        }
    }
}
