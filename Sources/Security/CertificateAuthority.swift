import Crypto
import Foundation
import MortarCore
import SwiftASN1
import X509

/// The cluster's certificate authority: a P-256 key and a self-signed certificate in a directory only root may
/// read (`ca.key`, `ca.pem`), and a register of what it issued (`issued.json`). `mortar cert init` makes one,
/// `mortar cert issue` signs certificates with it, `mortar cert list` reads the register and `mortar cert revoke`
/// marks entries revoked there (and tells the cluster).
public struct CertificateAuthority: Sendable {
    public let directory: String
    private let certificate: Certificate
    private let key: Certificate.PrivateKey

    static let certificateFile = "ca.pem"
    static let keyFile = "ca.key"
    static let registerFile = "issued.json"

    /// How long a new CA, and by default a new certificate, stay valid.
    public static let authorityValidityDays = 3650
    public static let defaultValidityDays = 365

    /// Creates a new CA in `directory` (made if missing, mode 0700); refuses when one is there already.
    public static func create(directory: String, name: String) throws(FileSystemError) -> CertificateAuthority {
        try CertificateName.validate(name)
        try SecureFiles.makeDirectory(directory)
        guard !FileManager.default.fileExists(atPath: directory + "/" + keyFile) else {
            throw FileSystemError(.exists, "\(directory) already holds a CA (\(keyFile)); remove it first to start a new cluster CA")
        }
        let key = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let now = Date()
        do {
            let subject = try DistinguishedName {
                OrganizationName("Mortar")
                CommonName(name)
            }
            let certificate = try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: key.publicKey,
                notValidBefore: now - 300, notValidAfter: now + Double(authorityValidityDays) * 86_400,
                issuer: subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                    Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                    SubjectKeyIdentifier(hash: key.publicKey)
                },
                issuerPrivateKey: key)
            try SecureFiles.write(try key.serializeAsPEM().pemString, to: directory + "/" + keyFile, mode: 0o600)
            try SecureFiles.write(try certificate.serializeAsPEM().pemString, to: directory + "/" + certificateFile, mode: 0o644)
            try SecureFiles.write("[]\n", to: directory + "/" + registerFile, mode: 0o600)
        } catch let error as FileSystemError {
            throw error
        } catch {
            throw FileSystemError(.inputOutput, "cannot create a CA in \(directory): \(error)")
        }
        return try open(directory: directory)
    }

    /// The CA in `directory`.
    public static func open(directory: String) throws(FileSystemError) -> CertificateAuthority {
        let keyPath = directory + "/" + keyFile
        guard FileManager.default.fileExists(atPath: keyPath) else {
            throw FileSystemError(.notFound, "no CA in \(directory); create one with `mortar cert init --ca-dir \(directory)`")
        }
        do {
            let key = try Certificate.PrivateKey(pemEncoded: try String(contentsOfFile: keyPath, encoding: .utf8))
            let certificate = try Certificate(
                pemEncoded: try String(contentsOfFile: directory + "/" + certificateFile, encoding: .utf8))
            return CertificateAuthority(directory: directory, certificate: certificate, key: key)
        } catch {
            throw FileSystemError(.invalidArgument, "cannot read the CA in \(directory): \(error)")
        }
    }

    /// The CA's certificate in PEM, as clients' `glusterfs.ca` holds it.
    public func authorityPEM() throws(FileSystemError) -> String {
        do {
            return try certificate.serializeAsPEM().pemString
        } catch {
            throw FileSystemError(.inputOutput, "cannot encode the CA certificate: \(error)")
        }
    }

    /// Signs a new certificate for `name` with `role` and writes `glusterfs.pem`, `glusterfs.key` (mode 0600) and
    /// `glusterfs.ca` into `output` (made if missing, mode 0700). Refuses to overwrite credentials already there
    /// unless `replace`. The certificate names `name` and `alternativeNames` (host names and IP addresses) as its
    /// subject alternative names, so tools that check a server's name (curl, Prometheus) accept a host's.
    ///
    /// A host also gets its credentials towards etcd beside them (`etcd.pem`, `etcd.key`, `etcd-ca.pem`), signed
    /// by the cluster's etcd CA (``etcdAuthority()``).
    @discardableResult
    public func issue(
        name: String, role: CertificateRole, validityDays: Int = defaultValidityDays, output: String,
        alternativeNames: [String] = [], replace: Bool = false
    ) throws(FileSystemError) -> IssuedCertificate {
        let issued = try sign(
            name: name, role: role, validityDays: validityDays, output: output, alternativeNames: alternativeNames,
            replace: replace, names: .cluster)
        if role == .host {
            try etcdAuthority().sign(
                name: name, role: role, validityDays: validityDays, output: output,
                alternativeNames: alternativeNames, replace: replace, names: .etcd)
        }
        return issued
    }

    /// The cluster's etcd CA, in `etcd/` under this CA's directory, made on first use (a CA made before it existed
    /// gets it when it next issues a host certificate). etcd admits every certificate of the CA it trusts; this
    /// one signs hosts' certificates only, so users and applications — whose certificates the cluster CA signs —
    /// cannot reach etcd.
    public func etcdAuthority() throws(FileSystemError) -> CertificateAuthority {
        let etcdDirectory = directory + "/etcd"
        if FileManager.default.fileExists(atPath: etcdDirectory + "/" + Self.keyFile) {
            return try Self.open(directory: etcdDirectory)
        }
        return try Self.create(directory: etcdDirectory, name: "mortar-etcd-ca")
    }

    @discardableResult
    private func sign(
        name: String, role: CertificateRole, validityDays: Int, output: String, alternativeNames: [String],
        replace: Bool, names: TLSFiles.Names
    ) throws(FileSystemError) -> IssuedCertificate {
        try CertificateName.validate(name)
        let generalNames = try ([name] + alternativeNames).map { text throws(FileSystemError) in
            try Self.generalName(text)
        }
        guard (1...Self.authorityValidityDays).contains(validityDays) else {
            throw FileSystemError.invalidArgument("validity must be between 1 and \(Self.authorityValidityDays) days")
        }
        try SecureFiles.makeDirectory(output)
        let keyPath = output + "/" + names.privateKey
        guard replace || !FileManager.default.fileExists(atPath: keyPath) else {
            throw FileSystemError(.exists, "\(keyPath) exists already; choose another --out directory")
        }
        let leafKey = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let now = Date()
        let expiry = min(now + Double(validityDays) * 86_400, certificate.notValidAfter)
        let issued: IssuedCertificate
        do {
            let subject = try DistinguishedName {
                OrganizationName("Mortar")
                OrganizationalUnitName(role.organizationalUnit)
                CommonName(name)
            }
            let serial = Certificate.SerialNumber()
            let leaf = try Certificate(
                version: .v3, serialNumber: serial, publicKey: leafKey.publicKey, notValidBefore: now - 300,
                notValidAfter: expiry, issuer: certificate.subject, subject: subject,
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.notCertificateAuthority)
                    Critical(KeyUsage(digitalSignature: true))
                    try ExtendedKeyUsage([.serverAuth, .clientAuth])
                    SubjectKeyIdentifier(hash: leafKey.publicKey)
                    SubjectAlternativeNames(generalNames)
                    AuthorityKeyIdentifier(keyIdentifier: SubjectKeyIdentifier(hash: key.publicKey).keyIdentifier)
                },
                issuerPrivateKey: key)
            issued = IssuedCertificate(
                name: name, role: role, serial: PeerIdentity.hex(serial.bytes),
                notValidAfter: Int64(expiry.timeIntervalSince1970), revoked: false)
            try SecureFiles.write(try leafKey.serializeAsPEM().pemString, to: keyPath, mode: 0o600)
            try SecureFiles.write(
                try leaf.serializeAsPEM().pemString, to: output + "/" + names.certificate, mode: 0o644)
            try SecureFiles.write(try authorityPEM(), to: output + "/" + names.authority, mode: 0o644)
        } catch let error as FileSystemError {
            throw error
        } catch {
            throw FileSystemError(.inputOutput, "cannot issue a certificate for \(name): \(error)")
        }
        try updateRegister { $0.append(issued) }
        return issued
    }

    /// An IP address (v4 or v6) or a host name as a subject alternative name.
    static func generalName(_ text: String) throws(FileSystemError) -> GeneralName {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return .ipAddress(ASN1OctetString(contentBytes: ArraySlice(withUnsafeBytes(of: &v4) { Array($0) })))
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            return .ipAddress(ASN1OctetString(contentBytes: ArraySlice(withUnsafeBytes(of: &v6) { Array($0) })))
        }
        guard !text.isEmpty, text.utf8.count <= 253, text.utf8.allSatisfy(CertificateName.isNameByte) else {
            throw FileSystemError.invalidArgument("'\(text)' is neither an IP address nor a host name")
        }
        return .dnsName(text)
    }

    /// Everything the CA issued, oldest first.
    public func issued() throws(FileSystemError) -> [IssuedCertificate] {
        let path = directory + "/" + Self.registerFile
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FileSystemError(.notFound, "no register of issued certificates at \(path)")
        }
        do {
            return try JSONDecoder().decode([IssuedCertificate].self, from: data)
        } catch {
            throw FileSystemError(.invalidArgument, "\(path) is damaged: \(error)")
        }
    }

    /// Marks every unrevoked certificate issued to `name` revoked in the register and returns them (the caller
    /// publishes their serials to the cluster). A name the CA never issued is an error.
    public func revoke(name: String) throws(FileSystemError) -> [IssuedCertificate] {
        var revoked: [IssuedCertificate] = []
        try updateRegister { register in
            for index in register.indices where register[index].name == name && !register[index].revoked {
                register[index].revoked = true
                revoked.append(register[index])
            }
        }
        guard !revoked.isEmpty else {
            let known = try issued().contains { $0.name == name }
            throw known
                ? FileSystemError(.exists, "every certificate issued to \(name) is revoked already")
                : FileSystemError.notFound("this CA issued no certificate to \(name)")
        }
        return revoked
    }

    private func updateRegister(_ change: (inout [IssuedCertificate]) -> Void) throws(FileSystemError) {
        var register = try issued()
        change(&register)
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            let text = String(decoding: try encoder.encode(register), as: UTF8.self) + "\n"
            try SecureFiles.write(text, to: directory + "/" + Self.registerFile, mode: 0o600)
        } catch let error as FileSystemError {
            throw error
        } catch {
            throw FileSystemError(.inputOutput, "cannot write the register of issued certificates: \(error)")
        }
    }
}

/// One entry of a CA's register.
public struct IssuedCertificate: Codable, Sendable, Hashable {
    public var name: String
    public var role: CertificateRole
    public var serial: String
    /// Seconds since 1970.
    public var notValidAfter: Int64
    public var revoked: Bool
}

/// Names a certificate may carry: what a host, a user or an application is called, and nothing a shell, a path or
/// a log line would treat specially.
public enum CertificateName {
    /// Letters, digits, '.', '-' and '_': the bytes of certificate names and of the host names they carry.
    static func isNameByte(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
            || byte == 0x2d || byte == 0x2e || byte == 0x5f
    }

    public static func validate(_ name: String) throws(FileSystemError) {
        guard (1...Limits.certificateNameByteCountMax).contains(name.utf8.count), name.utf8.allSatisfy(isNameByte),
            !name.hasPrefix("-"), !name.hasPrefix(".")
        else {
            throw FileSystemError.invalidArgument(
                "certificate name '\(name)' must be 1 to \(Limits.certificateNameByteCountMax) letters, digits, '.', '-' or '_', not starting with '-' or '.'")
        }
    }
}

/// Writes credentials: directories mode 0700, files atomically (a temporary file renamed into place) with the
/// mode given, so a key is never readable by others even for a moment.
enum SecureFiles {
    static func makeDirectory(_ path: String) throws(FileSystemError) {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw FileSystemError(.notDirectory, "\(path) is not a directory") }
            return
        }
        do {
            try FileManager.default.createDirectory(
                atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw FileSystemError(.inputOutput, "cannot create \(path): \(error)")
        }
    }

    static func write(_ text: String, to path: String, mode: mode_t) throws(FileSystemError) {
        let temporary = path + ".new"
        unlink(temporary)
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard descriptor >= 0 else { throw FileSystemError.fromErrno("open", temporary) }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        let synced = fsync(descriptor)
        close(descriptor)
        guard written == bytes.count, synced == 0 else {
            unlink(temporary)
            throw FileSystemError.inputOutput("cannot write \(path)")
        }
        guard rename(temporary, path) == 0 else {
            let error = FileSystemError.fromErrno("rename", path)
            unlink(temporary)
            throw error
        }
    }
}
