import MortarCore
import SwiftASN1
import X509

/// What a certificate of the cluster's CA lets its holder do. The role is the certificate's organizational unit
/// (`mortar-admin`, `mortar-host`, `mortar-client`), so `openssl x509 -subject` shows it.
public enum CertificateRole: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    /// An operator: may change the cluster through the management API, and do I/O as any client may.
    case admin
    /// A daemon and the bricks it runs: everything an admin may, plus the roles only bricks use towards each other
    /// (forwarded changes, heal) and the daemon-to-daemon agent calls.
    case host
    /// An application (qemu, tgt, fio, a mount): I/O on the volumes it is allowed on, and read-only management.
    case client

    /// The organizational unit naming the role.
    public var organizationalUnit: String { "mortar-\(rawValue)" }

    public init?(organizationalUnit: String) {
        guard organizationalUnit.hasPrefix("mortar-"),
            let role = CertificateRole(rawValue: String(organizationalUnit.dropFirst("mortar-".count)))
        else { return nil }
        self = role
    }

    /// Whether the holder may change the cluster (create, start, stop, delete, set options, revoke).
    public var mayManage: Bool { self != .client }

    public var description: String { rawValue }
}

/// Who is at the other end of an authenticated connection: the certificate's name, role and serial number, or
/// root on this host through a brick's Unix socket.
public struct PeerIdentity: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var role: CertificateRole
    /// The certificate's serial number in lower-case hex, as `mortar cert list` shows it; empty for local root.
    public var serial: String

    public init(name: String, role: CertificateRole, serial: String) {
        self.name = name
        self.role = role
        self.serial = serial
    }

    /// Root on the brick's own host, connected through its Unix socket (checked with `SO_PEERCRED`). Trusted as a
    /// host: root there can read and write the brick's directory without asking the brick.
    public static let localRoot = PeerIdentity(name: "local root", role: .host, serial: "")

    /// The identity a certificate of the cluster's CA carries; a certificate without a common name or a Mortar
    /// role is refused.
    public init(certificate: Certificate) throws(FileSystemError) {
        var name: String?
        var role: CertificateRole?
        for relative in certificate.subject {
            for attribute in relative {
                if attribute.type == .RDNAttributeType.commonName {
                    name = String(attribute.value)
                } else if attribute.type == .RDNAttributeType.organizationalUnitName {
                    role = String(attribute.value).flatMap(CertificateRole.init(organizationalUnit:))
                }
            }
        }
        guard let name, !name.isEmpty else {
            throw FileSystemError(.permissionDenied, "the certificate has no common name")
        }
        guard let role else {
            throw FileSystemError(.permissionDenied, "certificate '\(name)' has no Mortar role (mortar-admin, mortar-host or mortar-client)")
        }
        self.init(name: name, role: role, serial: Self.hex(certificate.serialNumber.bytes))
    }

    /// The identity of a DER-encoded certificate.
    public init(derEncoded bytes: [UInt8]) throws(FileSystemError) {
        let certificate: Certificate
        do {
            certificate = try Certificate(derEncoded: bytes)
        } catch {
            throw FileSystemError(.permissionDenied, "cannot parse the peer's certificate: \(error)")
        }
        try self.init(certificate: certificate)
    }

    static func hex(_ bytes: some Collection<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    public var description: String {
        serial.isEmpty ? name : "'\(name)' (\(role), serial \(serial))"
    }
}
