import Foundation
import MortarBrick
import MortarBrickServer
import MortarCore
import MortarProtocolClient
import MortarSecurity
import MortarTesting
import MortarTransport
import NIOCore
import NIOPosix
import Testing

/// A brick serving TLS with a host certificate, and clients holding every kind of credentials: the cluster's client
/// certificate, none, another CA's, a revoked one. Each refusal is EACCES with a one-line reason, and the roles only
/// bricks may use are refused to anyone but a host.
@Suite struct TLSBrickTests {
    /// A brick with TLS on, the cluster's certificates, and a second CA's admin credentials (an intruder's).
    struct Setup {
        let brick: LoopbackBrick
        let certificates: TestCertificates
        let strangers: TestCertificates
        let root: String

        static func start() async throws -> Setup {
            let root = try LoopbackBrick.makeTemporaryDirectory("mortar-tls")
            let certificates = try TestCertificates(directory: root + "/cluster")
            let strangers = try TestCertificates(directory: root + "/strangers")
            try FileManager.default.createDirectory(atPath: root + "/brick", withIntermediateDirectories: true)
            let brick = try await LoopbackBrick.start(
                root: root + "/brick", unixSocket: root + "/brick.socket",
                security: try TestCertificates.security(certificates.hostDirectory))
            return Setup(brick: brick, certificates: certificates, strangers: strangers, root: root)
        }

        func connect(_ credentials: String?, name: String = "tls-test") async throws -> BrickConnection {
            try await BrickConnection.connect(
                to: brick.endpoint, clientName: name,
                security: try credentials.map(TestCertificates.security) ?? .insecure,
                eventLoopGroup: MultiThreadedEventLoopGroup.singleton)
        }

        func tearDown() async {
            await brick.stop()
            try? FileManager.default.removeItem(atPath: root)
        }
    }

    @Test func aClientOfTheClusterDoesIO() async throws {
        let setup = try await Setup.start()
        let client = setup.brick.makeClient(
            security: try TestCertificates.security(setup.certificates.clientDirectory))
        let context = OperationContext()
        let created = try await client.create(
            "over-tls", in: .root, id: .random(), permissions: 0o644, flags: .readWrite, context: context)
        _ = try await client.write(ByteBuffer(string: "sealed"), to: created.file, at: 0, context: context)
        let data = try await client.read(from: created.file, at: 0, count: 16, context: context)
        #expect(String(buffer: data) == "sealed")
        let onDisk = try String(contentsOfFile: setup.brick.root + "/over-tls", encoding: .utf8)
        #expect(onDisk == "sealed", "the brick stored what went through TLS")
        client.shutdown()
        await setup.tearDown()
    }

    @Test func strangersAreRefusedWithAReason() async throws {
        let setup = try await Setup.start()
        // No certificate: the brick's TLS refuses the plain hello with an alert, which the client recognises.
        let started = ContinuousClock.now
        let plain = await #expect(throws: FileSystemError.self) { _ = try await setup.connect(nil) }
        print("TLSBrickTests: a plain client failed after \(ContinuousClock.now - started)")
        #expect(plain?.message.contains("speaks TLS and this connection does not") == true, "\(String(describing: plain))")
        // Another CA's certificate: each side refuses the other's.
        let foreign = await #expect(throws: FileSystemError.self) {
            _ = try await setup.connect(setup.strangers.adminDirectory)
        }
        #expect(foreign?.code == .permissionDenied)
        #expect(foreign?.message.contains("not signed by this cluster's CA") == true, "\(String(describing: foreign))")
        #expect(foreign?.message.contains("\n") == false)
        await setup.tearDown()
    }

    /// A client must not take a server holding a mere client certificate for a brick.
    @Test func aServerWithoutAHostCertificateIsRefused() async throws {
        let root = try LoopbackBrick.makeTemporaryDirectory("mortar-tls-impostor")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let certificates = try TestCertificates(directory: root + "/cluster")
        try FileManager.default.createDirectory(atPath: root + "/brick", withIntermediateDirectories: true)
        let impostor = try await LoopbackBrick.start(
            root: root + "/brick", security: try TestCertificates.security(certificates.clientDirectory))
        let refused = await #expect(throws: FileSystemError.self) {
            _ = try await BrickConnection.connect(
                to: impostor.endpoint, clientName: "victim",
                security: try TestCertificates.security(certificates.adminDirectory),
                eventLoopGroup: MultiThreadedEventLoopGroup.singleton)
        }
        #expect(refused?.code == .permissionDenied)
        #expect(refused?.message.contains("not a host certificate") == true, "\(String(describing: refused))")
        await impostor.stop()
    }

    /// "forwarded" and "heal" are what members say to each other: a client claiming them is refused, a host is not.
    @Test func brickRolesAreForHostsOnly() async throws {
        let setup = try await Setup.start()
        var forged = OperationContext()
        forged.replication = ReplicationStamp(epoch: 1, role: .forwarded)
        for credentials in [setup.certificates.clientDirectory, setup.certificates.adminDirectory] {
            let client = setup.brick.makeClient(security: try TestCertificates.security(credentials))
            let refused = await #expect(throws: FileSystemError.self) {
                _ = try await client.makeDirectory("forged", in: .root, id: .random(), permissions: 0o755, context: forged)
            }
            #expect(refused?.code == .permissionDenied)
            #expect(refused?.message.contains("is for cluster hosts") == true, "\(String(describing: refused))")
            // Control messages of replication (a view push here) are refused from them whatever role they claim.
            let view = ReplicaSetView(setIndex: 0, epoch: 9, members: [.inSync, .outOfSync], minInSync: 1)
            let pushed = await #expect(throws: FileSystemError.self) {
                _ = try await client.control(.installView(view), context: OperationContext())
            }
            #expect(pushed?.code == .permissionDenied)
            #expect(pushed?.message.contains("view push is for cluster hosts") == true, "\(String(describing: pushed))")
            client.shutdown()
        }
        #expect(!FileManager.default.fileExists(atPath: setup.brick.root + "/forged"), "nothing was applied")
        let host = setup.brick.makeClient(security: try TestCertificates.security(setup.certificates.hostDirectory))
        _ = try await host.makeDirectory("forwarded", in: .root, id: .random(), permissions: 0o755, context: forged)
        #expect(FileManager.default.fileExists(atPath: setup.brick.root + "/forwarded"))
        // A host gets past the session; this brick is no replica member, so its storage says so.
        let unreplicated = await #expect(throws: FileSystemError.self) {
            _ = try await host.control(.memberStatus, context: OperationContext())
        }
        #expect(unreplicated?.code == .notSupported)
        #expect(unreplicated?.message.contains("not a member of a replica set") == true)
        host.shutdown()
        await setup.tearDown()
    }

    /// Root on the brick's Unix socket may be the host's other bricks or an application running as root: the
    /// address lists refuse what it asks as a client (a local client counts as 127.0.0.1), while the roles bricks
    /// use with each other still work.
    @Test func theAddressListsApplyToRootOnTheUnixSocketAsAClient() async throws {
        try #require(geteuid() == 0, "the brick's Unix socket is root's alone with TLS on; this test must run as root")
        let setup = try await Setup.start()
        setup.brick.stack.service.policy.update(try VolumeOptions(["auth.reject": "127.0.0.1"]))
        let local = setup.brick.makeClient(endpoint: .unixSocket(path: setup.root + "/brick.socket"))
        let refused = await #expect(throws: FileSystemError.self) {
            _ = try await local.makeDirectory("as-client", in: .root, id: .random(), permissions: 0o755, context: OperationContext())
        }
        #expect(refused?.code == .permissionDenied)
        #expect(refused?.message.contains("refused by auth.reject") == true, "\(String(describing: refused))")
        var forwarded = OperationContext()
        forwarded.replication = ReplicationStamp(epoch: 1, role: .forwarded)
        _ = try await local.makeDirectory("as-member", in: .root, id: .random(), permissions: 0o755, context: forwarded)
        #expect(!FileManager.default.fileExists(atPath: setup.brick.root + "/as-client"), "the client's change was refused")
        #expect(FileManager.default.fileExists(atPath: setup.brick.root + "/as-member"), "the member's change was applied")
        local.shutdown()
        // The lists apply to connections made after a change.
        setup.brick.stack.service.policy.update(try VolumeOptions([:]))
        let later = setup.brick.makeClient(endpoint: .unixSocket(path: setup.root + "/brick.socket"))
        _ = try await later.makeDirectory("allowed-again", in: .root, id: .random(), permissions: 0o755, context: OperationContext())
        later.shutdown()
        await setup.tearDown()
    }

    /// A revoked certificate's connection is cut at once and it cannot connect again; others carry on.
    @Test func aRevokedCertificateIsCutOff() async throws {
        let setup = try await Setup.start()
        let (doomedDirectory, doomedSerial) = try setup.certificates.issue("doomed", role: .client)
        let doomed = try await setup.connect(doomedDirectory)
        let bystander = try await setup.connect(setup.certificates.clientDirectory)
        let revocations = try #require(setup.brick.stack.service.security.context?.revocations)
        let added = revocations.merge([doomedSerial])
        #expect(setup.brick.stack.service.disconnect(revoked: added) == 1)
        try await waitFor("the revoked certificate's connection closes", seconds: 10) { !doomed.isActive }
        #expect(bystander.isActive)
        let again = await #expect(throws: FileSystemError.self) { _ = try await setup.connect(doomedDirectory) }
        #expect(again?.code == .permissionDenied)
        #expect(again?.message.contains("is revoked") == true, "\(String(describing: again))")
        bystander.close()
        await setup.tearDown()
    }

    /// `auth.ssl-allow` admits the certificates it names, and cluster hosts always.
    @Test func sslAllowAdmitsOnlyTheNamed() async throws {
        let setup = try await Setup.start()
        setup.brick.stack.service.policy.update(try VolumeOptions(["auth.ssl-allow": "qemu, tgt"]))
        let refused = await #expect(throws: FileSystemError.self) {
            _ = try await setup.connect(setup.certificates.clientDirectory)
        }
        #expect(refused?.code == .permissionDenied)
        #expect(refused?.message.contains("'client' is not in auth.ssl-allow") == true, "\(String(describing: refused))")
        let (qemu, _) = try setup.certificates.issue("qemu", role: .client)
        try await setup.connect(qemu).close()
        try await setup.connect(setup.certificates.hostDirectory).close()
        await setup.tearDown()
    }

    private func waitFor(_ what: String, seconds: Int, _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while !condition() {
            guard ContinuousClock.now < deadline else { throw FileSystemError(.timedOut, "\(what): not within \(seconds) s") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
