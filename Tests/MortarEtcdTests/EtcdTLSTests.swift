import Foundation
import MortarCore
import MortarEtcd
import MortarSecurity
import MortarTesting
import Testing

/// etcd run with the cluster's host credentials (`EtcdMember.tlsDirectory`), three members so that the peers' own
/// TLS is exercised too: the cluster's hosts reach it with the etcd certificates `issue` gives every host, and nobody
/// else does — not an admin's or an application's certificate, not even a host's cluster certificate (etcd admits
/// every certificate of the CA it trusts, so it must not trust the CA that signs users' certificates), not another
/// cluster's host, not a client without a certificate (each a one-line EACCES naming etcd), not plain HTTP (a
/// dropped connection, its likely cause named); and a refused write changes nothing.
@Suite("etcd over TLS")
struct EtcdTLSTests {
    @Test func onlyTheClustersHostsReachEtcd() async throws {
        let directory = NSTemporaryDirectory() + "mortar-it-etcd-tls-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let certificates = try TestCertificates(directory: directory + "/certificates")
        // The members' certificate names their address, which peers check.
        try certificates.authority.issue(
            name: "etcd-host", role: .host, output: directory + "/etcd-host", alternativeNames: ["127.0.0.1"])
        let stranger = try CertificateAuthority.create(directory: directory + "/other-ca", name: "other-ca")
        try stranger.issue(name: "host", role: .host, output: directory + "/stranger")
        for role in [CertificateRole.admin, .client] {
            let credentials = role == .admin ? certificates.adminDirectory : certificates.clientDirectory
            #expect(!FileManager.default.fileExists(atPath: credentials + "/" + TLSFiles.Names.etcd.privateKey),
                    "only hosts get etcd credentials, not \(role)")
        }

        let cluster = try EtcdTestCluster(directory: directory + "/etcd", count: 3, tlsDirectory: directory + "/etcd-host")
        try await cluster.start()
        do {
            #expect(cluster.members.allSatisfy { $0.clientURL.hasPrefix("https://") && $0.endpoint.secure })
            // Another host of the cluster, with etcd credentials of its own.
            let host = try cluster.client(
                security: .tls(TLSContext(directory: certificates.hostDirectory, names: .etcd)))
            try await host.put("/t/catalog", [1])
            #expect(try await host.get("/t/catalog")?.value == [1])

            // Each outsider trusts the cluster's etcd CA (its certificate is no secret), so that what is tested is
            // etcd refusing the outsider's certificate, not the outsider refusing etcd's.
            let etcdAuthority = directory + "/etcd-host/" + TLSFiles.Names.etcd.authority
            func outsider(_ credentials: String, _ names: TLSFiles.Names = .cluster) throws -> TransportSecurity {
                let forged = directory + "/forged-\(UUID().uuidString.prefix(8))"
                try FileManager.default.createDirectory(atPath: forged, withIntermediateDirectories: true)
                let files = FileManager.default
                try files.copyItem(atPath: credentials + "/" + names.certificate, toPath: forged + "/etcd.pem")
                try files.copyItem(atPath: credentials + "/" + names.privateKey, toPath: forged + "/etcd.key")
                try files.copyItem(atPath: etcdAuthority, toPath: forged + "/etcd-ca.pem")
                return .tls(try TLSContext(directory: forged, names: .etcd))
            }
            for (who, security) in [
                ("an admin certificate", try outsider(certificates.adminDirectory)),
                ("a client certificate", try outsider(certificates.clientDirectory)),
                ("a host's cluster certificate", try outsider(certificates.hostDirectory)),
                ("another cluster's host", try outsider(directory + "/stranger", .etcd)),
            ] {
                let outsider = try cluster.client(security: security)
                let refused = await #expect(throws: FileSystemError.self, "\(who)") {
                    try await outsider.put("/t/catalog", [9])
                }
                #expect(refused?.code == .permissionDenied, "\(who): \(refused?.message ?? "")")
                #expect(refused?.message.contains("etcd") == true, "\(who): \(refused?.message ?? "")")
                #expect(refused?.message.contains("does not accept this certificate") == true, "\(who): \(refused?.message ?? "")")
                #expect(refused?.message.contains("etcd CA") == true, "\(who): \(refused?.message ?? "")")
                #expect(refused?.message.contains("\n") == false)
                print("\(who): \(refused?.message ?? "")")
            }

            // And a host of the cluster that trusts only the cluster CA refuses etcd's certificate in turn.
            let misconfigured = try cluster.client(security: TestCertificates.security(certificates.hostDirectory))
            let mistrusted = await #expect(throws: FileSystemError.self) { try await misconfigured.get("/t/catalog") }
            #expect(mistrusted?.message.contains("is not signed by this cluster's CA") == true)

            let bare = try cluster.client(security: .insecure)
            let noCertificate = await #expect(throws: FileSystemError.self) { try await bare.get("/t/catalog") }
            #expect(noCertificate?.code == .permissionDenied)
            #expect(noCertificate?.message.contains("no etcd certificate to present") == true)

            var plainEndpoint = cluster.members[0].endpoint
            plainEndpoint.secure = false
            let plain = EtcdClient(endpoints: [plainEndpoint])
            let inTheClear = await #expect(throws: FileSystemError.self) { try await plain.put("/t/catalog", [9]) }
            // etcd closes a plain connection to a TLS port without a word; a member restarting does the same, so
            // this is passed over like a lost connection, with the likelier cause named.
            #expect(inTheClear?.code == .connectionReset)
            #expect(inTheClear?.message.contains("if it requires TLS, give its URL as https://") == true,
                    "\(inTheClear?.message ?? "")")

            #expect(try await host.get("/t/catalog")?.value == [1], "no refused write changed the key")
        } catch {
            try await cluster.destroy()
            throw error
        }
        try await cluster.destroy()
    }
}
