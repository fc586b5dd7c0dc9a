import Foundation
import MortarCore
import MortarSecurity
import MortarTesting
import Testing

/// The cluster CA: what it issues carries the name and role asked for, keys are written for root's eyes only, the
/// register lists and revokes, and every bad input is one line naming what was wrong.
@Suite struct CertificateAuthorityTests {
    static func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.path + "/mortar-ca-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func issuedCertificatesCarryTheirNameAndRole() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let certificates = try TestCertificates(directory: directory)
        let register = try certificates.authority.issued()
        #expect(register.map(\.name) == ["host", "admin", "client"])
        #expect(register.map(\.role) == [.host, .admin, .client])
        for (entry, credentials) in zip(
            register, [certificates.hostDirectory, certificates.adminDirectory, certificates.clientDirectory])
        {
            let context = try TLSContext(directory: credentials)
            #expect(context.identity == PeerIdentity(name: entry.name, role: entry.role, serial: entry.serial))
        }
        #expect(Set(register.map(\.serial)).count == 3, "every certificate has its own serial number")
        #expect(CertificateRole.client.mayManage == false && CertificateRole.admin.mayManage)
    }

    @Test func keysAreForTheOwnerOnly() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let certificates = try TestCertificates(directory: directory)
        func mode(_ path: String) throws -> Int {
            (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? -1
        }
        #expect(try mode(directory + "/ca/ca.key") == 0o600)
        #expect(try mode(directory + "/ca") == 0o700)
        #expect(try mode(certificates.clientDirectory + "/glusterfs.key") == 0o600)
        #expect(try mode(certificates.clientDirectory) == 0o700)
        #expect(try mode(certificates.clientDirectory + "/glusterfs.pem") == 0o644)
        #expect(try mode(directory + "/ca/etcd/ca.key") == 0o600)
        #expect(try mode(certificates.hostDirectory + "/etcd.key") == 0o600)
    }

    /// A host also gets credentials towards etcd, from a CA of their own that signs hosts only; admins and clients
    /// get none. (etcd admits every certificate of the CA it trusts: trusting the cluster CA would let every user
    /// and application rewrite the catalog.)
    @Test func hostsAlsoGetEtcdCredentialsFromACAOfTheirOwn() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let certificates = try TestCertificates(directory: directory)
        let etcd = try TLSContext(directory: certificates.hostDirectory, names: .etcd)
        #expect(etcd.identity.name == "host" && etcd.identity.role == .host)
        let etcdAuthority = try String(contentsOfFile: certificates.hostDirectory + "/etcd-ca.pem", encoding: .utf8)
        #expect(etcdAuthority == (try certificates.authority.etcdAuthority().authorityPEM()))
        #expect(etcdAuthority != (try certificates.authority.authorityPEM()), "etcd's CA is not the cluster's")
        #expect(try certificates.authority.etcdAuthority().issued().map(\.name) == ["host"])
        for credentials in [certificates.adminDirectory, certificates.clientDirectory] {
            #expect(!FileManager.default.fileExists(atPath: credentials + "/etcd.pem"))
            #expect(throws: FileSystemError.self) { try TLSContext(directory: credentials, names: .etcd) }
        }
    }

    @Test func revocationIsRecordedOnce() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let certificates = try TestCertificates(directory: directory)
        let revoked = try certificates.authority.revoke(name: "client")
        #expect(revoked.map(\.name) == ["client"])
        #expect(try certificates.authority.issued().filter(\.revoked).map(\.name) == ["client"])
        let twice = #expect(throws: FileSystemError.self) { _ = try certificates.authority.revoke(name: "client") }
        #expect(twice?.code == .exists)
        let unknown = #expect(throws: FileSystemError.self) { _ = try certificates.authority.revoke(name: "ghost") }
        #expect(unknown?.code == .notFound)
    }

    @Test func badInputIsOneLineNamingIt() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let certificates = try TestCertificates(directory: directory)
        let again = #expect(throws: FileSystemError.self) {
            _ = try CertificateAuthority.create(directory: directory + "/ca", name: "again")
        }
        #expect(again?.code == .exists)
        for name in ["", "-flag", "a/b", "space name", String(repeating: "x", count: 65), "new\nline"] {
            let refused = #expect(throws: FileSystemError.self) {
                try certificates.authority.issue(name: name, role: .client, output: directory + "/bad")
            }
            #expect(refused?.code == .invalidArgument, "name \(name.debugDescription)")
        }
        let overwrite = #expect(throws: FileSystemError.self) {
            try certificates.authority.issue(name: "other", role: .client, output: certificates.clientDirectory)
        }
        #expect(overwrite?.code == .exists, "credentials already there are not overwritten")
        let missing = #expect(throws: FileSystemError.self) { _ = try TLSContext(directory: directory + "/none") }
        #expect(missing?.code == .notFound)
        #expect(missing?.message.contains("glusterfs.pem") == true)
        let badSAN = #expect(throws: FileSystemError.self) {
            try certificates.authority.issue(
                name: "h", role: .host, output: directory + "/h", alternativeNames: ["bad name"])
        }
        #expect(badSAN?.message.contains("'bad name'") == true)
        // Garbage where the key should be.
        try "not a key".write(toFile: certificates.adminDirectory + "/glusterfs.key", atomically: true, encoding: .utf8)
        let garbage = #expect(throws: FileSystemError.self) { _ = try TLSContext(directory: certificates.adminDirectory) }
        #expect(garbage?.message.contains("glusterfs.key") == true)
        #expect(garbage?.message.contains("\n") == false)
    }

    /// Clients look for credentials in a fixed order; `off` turns TLS off explicitly.
    @Test func credentialsAreLookedForInOrder() throws {
        #expect(TLSFiles.locate(explicit: "/given", environment: ["MORTAR_TLS_DIR": "/env"]) == .found("/given"))
        #expect(TLSFiles.locate(explicit: nil, environment: ["MORTAR_TLS_DIR": "/env"]) == .found("/env"))
        #expect(TLSFiles.locate(explicit: nil, environment: ["MORTAR_TLS_DIR": "off"]) == .disabled)
        #expect(TLSFiles.locate(explicit: "off", environment: [:]) == .disabled)
        let home = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let certificates = try TestCertificates(directory: home + "/made")
        let user = home + "/.config/mortar/tls"
        try certificates.authority.issue(name: "me", role: .admin, output: user)
        #expect(TLSFiles.locate(explicit: nil, environment: ["HOME": home]) == .found(user))
        #expect(TLSFiles.locate(explicit: nil, environment: ["XDG_CONFIG_HOME": home + "/elsewhere"]) != .found(user))
        // The system directories in order, the first with a certificate winning (Debian's GlusterFS reads
        // /usr/lib/ssl, not /etc/ssl).
        let system = [home + "/etc-ssl", home + "/usr-lib-ssl"]
        let nobody = ["HOME": home + "/nobody"]
        #expect(TLSFiles.locate(explicit: nil, environment: nobody, systemDirectories: system) == .none)
        try certificates.authority.issue(name: "debian", role: .client, output: system[1])
        #expect(TLSFiles.locate(explicit: nil, environment: nobody, systemDirectories: system) == .found(system[1]))
        try certificates.authority.issue(name: "documented", role: .client, output: system[0])
        #expect(TLSFiles.locate(explicit: nil, environment: nobody, systemDirectories: system) == .found(system[0]))
        #expect(TLSFiles.systemDirectories == ["/etc/ssl", "/usr/lib/ssl"])
    }

    @Test func revocationsOnlyGrow() {
        let list = RevocationList()
        #expect(list.merge(["aa", "bb"]) == ["aa", "bb"])
        #expect(list.merge(["bb"]).isEmpty)
        #expect(list.merge([]).isEmpty)
        #expect(list.isRevoked("aa") && list.isRevoked("bb") && !list.isRevoked("cc"))
        #expect(!list.isRevoked(""), "local root has no serial and is never revoked")
    }
}
