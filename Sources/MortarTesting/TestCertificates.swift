import MortarCore
import MortarSecurity

/// A cluster CA and certificates for tests, in a directory: `ca/` (the CA), `host/`, `admin/` and `client/`
/// (credentials directories, as `mortar cert issue` writes them). ``issue(_:role:)`` makes more.
public struct TestCertificates: Sendable {
    public let directory: String
    public let authority: CertificateAuthority

    /// Creates the CA and the three usual certificates (names `host`, `admin`, `client`) under `directory`.
    public init(directory: String) throws {
        self.directory = directory
        authority = try CertificateAuthority.create(directory: directory + "/ca", name: "test-ca")
        try authority.issue(name: "host", role: .host, output: hostDirectory)
        try authority.issue(name: "admin", role: .admin, output: adminDirectory)
        try authority.issue(name: "client", role: .client, output: clientDirectory)
    }

    public var hostDirectory: String { directory + "/host" }
    public var adminDirectory: String { directory + "/admin" }
    public var clientDirectory: String { directory + "/client" }

    /// Issues another certificate; returns its credentials directory.
    @discardableResult
    public func issue(_ name: String, role: CertificateRole) throws -> (directory: String, serial: String) {
        let output = directory + "/" + name
        let issued = try authority.issue(name: name, role: role, output: output)
        return (output, issued.serial)
    }

    /// The security of a process holding the credentials in `credentials`.
    public static func security(_ credentials: String) throws -> TransportSecurity {
        .tls(try TLSContext(directory: credentials))
    }
}
