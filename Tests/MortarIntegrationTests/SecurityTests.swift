import Foundation
import Mortar
import MortarCore
import MortarManagementAPI
import MortarMembership
import MortarSecurity
import MortarTesting
import MortarTransport
import NIOPosix
import Testing

/// The trust boundary with real processes: a daemon and bricks with TLS on, and callers holding no certificate,
/// another CA's, a client's, an admin's or a revoked one. Every refused attempt is one line saying why and leaves
/// the catalog as it was.
@Suite("Security with real processes")
struct SecurityTests {
    /// The catalog as `volume info` shows it, to compare before and after refused changes.
    static func catalog(_ cluster: ProcessCluster) async throws -> String {
        let result = try await cluster.expectSuccess("volume", "info", "rep", "--json")
        return result.output
    }

    @Test func managementRefusesWhoMayNot() async throws {
        let set = try await ReplicatedCluster.start()
        let cluster = set.cluster
        let strangers = try TestCertificates(directory: cluster.directory + "/strangers")
        let before = try await Self.catalog(cluster)
        let brick = try cluster.makeBrickDirectory("intruder")

        // No certificate, and another CA's admin certificate: nothing at all, reads included.
        try await cluster.expectFailure(["volume", "list", "--tls-dir", "off"], mentioning: "requires TLS")
        try await cluster.expectFailure(
            ["volume", "list", "--tls-dir", strangers.adminDirectory], mentioning: "not signed by this cluster's CA")
        try await cluster.expectFailure(
            ["volume", "create", "evil", "127.0.0.1:" + brick, "--tls-dir", strangers.adminDirectory],
            mentioning: "not signed by this cluster's CA")

        // A client certificate reads, and changes nothing.
        let client = cluster.certificates.clientDirectory
        try await cluster.expectSuccess("volume", "status", "rep", "--tls-dir", client)
        let changes: [[String]] = [
            ["volume", "create", "evil", "127.0.0.1:" + brick], ["volume", "stop", "rep"], ["volume", "delete", "rep"],
            ["volume", "set", "rep", "auth.allow", "*"], ["volume", "reset", "rep"], ["peer", "probe", "127.0.0.9"],
            ["volume", "heal", "rep"],
        ]
        for change in changes {
            try await cluster.expectFailure(change + ["--tls-dir", client], mentioning: "needs an admin certificate")
        }

        // The agents' and the members' endpoints are for hosts: not even an admin may use them.
        for credentials in [client, cluster.certificates.adminDirectory] {
            let caller = try cluster.managementClient(credentials: credentials)
            let assignment = AgentBrick(volume: "rep", path: brick, port: 40_000, index: 0)
            await expectRefusal("is for cluster hosts") { try await caller.startBricks([assignment]) }
            await expectRefusal("is for cluster hosts") { try await caller.stopBricks([assignment]) }
            await expectRefusal("is for cluster hosts") {
                _ = try await caller.reportMembership(volume: "rep", setIndex: 0, event: .unreachable(member: 1))
            }
            await expectRefusal("is for cluster hosts") {
                _ = try await caller.reportMembership(
                    volume: "rep", setIndex: 0, event: .caughtUp(member: 1, source: 0, epoch: 1))
            }
        }
        #expect(try await Self.catalog(cluster) == before, "refused requests changed the catalog")
        #expect(try await cluster.brickProcesses("rep").allSatisfy(\.online))
        await set.tearDown()
    }

    /// `mortar cert revoke`: the cluster refuses the certificate at once, the bricks within their poll, and a brick
    /// connection that was open when it was revoked is cut.
    @Test func revokedCertificatesAreRefusedEverywhere() async throws {
        let (cluster, _, port) = try await ResourceBoundTests.startOneBrickVolume("one")
        let (doomed, serial) = try cluster.certificates.issue("doomed", role: .client)
        let open = try await Self.connect(port: port, credentials: doomed)
        try await cluster.expectSuccess("volume", "status", "one", "--tls-dir", doomed)

        let result = try await cluster.expectSuccess("cert", "revoke", "doomed", "--ca-dir", cluster.certificates.directory + "/ca")
        #expect(result.output.contains(serial))
        try await cluster.expectFailure(["volume", "status", "one", "--tls-dir", doomed], mentioning: "is revoked")
        let started = ContinuousClock.now
        try await waitUntil("the brick cuts the revoked certificate's connection", seconds: 30) { !open.isActive }
        print("SecurityTests: the brick cut the revoked connection \(ContinuousClock.now - started) after the revocation")
        let again = await #expect(throws: FileSystemError.self) {
            _ = try await Self.connect(port: port, credentials: doomed)
        }
        #expect(again?.code == .permissionDenied)
        #expect(again?.message.contains("is revoked") == true, "\(String(describing: again))")
        // Others carry on; the register shows the revocation.
        let other = try await Self.connect(port: port, credentials: cluster.certificates.clientDirectory)
        other.close()
        let listed = try await cluster.expectSuccess("cert", "list", "--ca-dir", cluster.certificates.directory + "/ca")
        #expect(listed.output.split(separator: "\n").contains { $0.hasPrefix("doomed") && $0.contains("revoked") })
        try await cluster.expectFailure(
            ["cert", "revoke", "doomed", "--ca-dir", cluster.certificates.directory + "/ca"], mentioning: "revoked already")
        await cluster.tearDown()
    }

    /// `auth.ssl-allow` names the certificates that may use a volume: others cannot fetch its spec or reach its
    /// bricks; admins and hosts are unaffected for management.
    @Test func sslAllowNamesWhoMayUseAVolume() async throws {
        let (cluster, _, port) = try await ResourceBoundTests.startOneBrickVolume("guarded")
        let (qemu, _) = try cluster.certificates.issue("qemu", role: .client)
        try await cluster.expectSuccess("volume", "set", "guarded", "auth.ssl-allow", "qemu")
        let refused = await #expect(throws: FileSystemError.self) { _ = try await cluster.connect("guarded") }
        #expect(refused?.code == .permissionDenied)
        #expect(refused?.message.contains("not in auth.ssl-allow") == true, "\(String(describing: refused))")
        let volume = try await cluster.connect("guarded", credentials: qemu)
        await volume.close()
        // The brick refuses too (within its options poll), whatever the spec said.
        try await waitUntil("the brick refuses a certificate auth.ssl-allow does not name", seconds: 30) {
            do {
                try await Self.connect(port: port, credentials: cluster.certificates.clientDirectory).close()
                return false
            } catch let error as FileSystemError {
                return error.message.contains("not in auth.ssl-allow")
            }
        }
        try await Self.connect(port: port, credentials: qemu).close()
        await cluster.tearDown()
    }

    /// A connection over TCP (not the Unix socket local root would use) with the credentials in `credentials`.
    ///
    /// The connect runs on an event loop, not the cooperative pool: other tests block that pool's two threads
    /// while their CLI processes run, and a connect stalled there for the brick's hello deadline (5 s) was closed
    /// by the brick before its hello was sent ("EOF during handshake" in the brick's log, ENOTCONN here).
    static func connect(port: Int, credentials: String) async throws -> BrickConnection {
        let security = try TestCertificates.security(credentials)
        let group = MultiThreadedEventLoopGroup.singleton
        return try await withTaskExecutorPreference(EventLoopTaskExecutor(group.next())) {
            try await BrickConnection.connect(
                to: .tcp(host: "127.0.0.1", port: port), clientName: "security-test", security: security,
                eventLoopGroup: group)
        }
    }

    private func expectRefusal(
        _ reason: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> Void
    ) async {
        let error = await #expect(throws: FileSystemError.self, sourceLocation: sourceLocation) { try await body() }
        #expect(error?.code == .permissionDenied, sourceLocation: sourceLocation)
        #expect(error?.message.contains(reason) == true, "\(String(describing: error))", sourceLocation: sourceLocation)
    }
}
