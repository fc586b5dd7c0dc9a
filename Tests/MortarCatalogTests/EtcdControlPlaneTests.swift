import Foundation
import MortarCatalog
import MortarCore
@testable import MortarDaemon
import MortarEtcd
import MortarManagementAPI
import MortarTesting
import Synchronization
import Testing

/// Three daemons in this process sharing one real etcd: any of them serves and changes the one catalog, changes
/// through different daemons are serialised by etcd, and the manager role moves when its holder stops. The
/// daemons listen on 127.0.0.2–4 (each takes 127.0.0.1 for itself, so no test host may be named that); bricks are
/// played by fake_brick.py.
@Suite("control plane on etcd", .serialized)
struct EtcdControlPlaneTests {
    /// One running daemon.
    final class Running: Sendable {
        let daemon: Daemon
        let client: ManagementClient
        let host: String
        let finished = Atomic<Bool>(false)

        init(daemon: Daemon, client: ManagementClient, host: String) {
            self.daemon = daemon
            self.client = client
            self.host = host
        }

        var isRunning: Bool { !finished.load(ordering: .acquiring) }

        /// Shuts the daemon down (stopping its bricks) and waits, bounded, until its run has returned.
        func stop() async throws {
            daemon.shutdown(stoppingBricks: true)
            let deadline = ContinuousClock.now + .seconds(60)
            while isRunning {
                guard ContinuousClock.now < deadline else {
                    throw FileSystemError(.timedOut, "the daemon of \(host) did not stop within 60 s")
                }
                try await Task.sleep(for: .milliseconds(20))
            }
        }
    }

    struct Cluster {
        let harness: DaemonHarness
        let etcd: EtcdTestCluster
        /// Hands started daemons to the task group that runs them (see ``withDaemons(_:_:_:)``).
        let launches: AsyncStream<Running>.Continuation
        var daemons: [Running] = []

        func configuration(host: String) -> DaemonConfiguration {
            var configuration = harness.configuration
            configuration.listenHost = host
            configuration.advertisedHost = host
            configuration.stateDirectory = harness.directory + "/state-\(host)"
            configuration.etcdEndpoints = etcd.members.map(\.endpoint)
            return configuration
        }

        /// Starts the daemon of `host`; it runs until ``Running/stop()`` or the end of the test.
        mutating func start(host: String) async throws -> Running {
            let daemon = try await Daemon.start(configuration: configuration(host: host))
            let client = ManagementClient(
                host: host, port: daemon.port,
                security: try TestCertificates.security(harness.certificates.adminDirectory))
            let running = Running(daemon: daemon, client: client, host: host)
            daemons.append(running)
            launches.yield(running)
            return running
        }
    }

    /// Runs `body` with a cluster whose daemons run as children of one task group: when `body` ends every daemon
    /// still running is shut down and awaited, then etcd is killed.
    static func withDaemons(
        _ harness: DaemonHarness, _ etcd: EtcdTestCluster, _ body: (inout Cluster) async throws -> Void
    ) async throws {
        let (launches, continuation) = AsyncStream.makeStream(of: Running.self)
        var cluster = Cluster(harness: harness, etcd: etcd, launches: continuation)
        var failure: (any Error)?
        await withDiscardingTaskGroup { group in
            group.addTask {
                await withDiscardingTaskGroup { runs in
                    for await running in launches {
                        runs.addTask {
                            await running.daemon.run()
                            running.finished.store(true, ordering: .releasing)
                        }
                    }
                }
            }
            do {
                try await body(&cluster)
            } catch {
                failure = error
            }
            for running in cluster.daemons where running.isRunning { running.daemon.shutdown(stoppingBricks: true) }
            continuation.finish()
        }
        try await etcd.destroy()
        if let failure { throw failure }
    }

    static let hosts = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]

    /// An etcd and three daemons for `body`.
    static func withCluster(_ body: (inout Cluster) async throws -> Void) async throws {
        let harness = try DaemonHarness("etcd-plane")
        defer { harness.removeDirectory() }
        let etcd = try EtcdTestCluster(directory: harness.directory + "/etcd")
        try await etcd.start()
        try await withDaemons(harness, etcd) { cluster in
            for host in hosts { _ = try await cluster.start(host: host) }
            try await body(&cluster)
        }
    }

    @Test func everyDaemonServesAndChangesTheOneCatalog() async throws {
        try await Self.withCluster { cluster in
            let (a, b, c) = (cluster.daemons[0], cluster.daemons[1], cluster.daemons[2])
            let bricks = try Self.hosts.map { "\($0):\(try cluster.harness.brickDirectory("b-\($0)"))" }
            let created = try await a.client.createVolume(name: "shared", bricks: bricks)
            #expect(try await b.client.volumeInfo(name: "shared") == created)
            #expect(try await c.client.volumeInfo(name: "shared") == created)

            // Started through another daemon: each host's agent starts its own brick.
            _ = try await c.client.startVolume(name: "shared")
            try await eventually("every brick online, as seen through a third daemon") {
                try await b.client.volumeStatus(name: "shared").bricks.allSatisfy(\.online)
            }
            let status = try await a.client.volumeStatus(name: "shared")
            #expect(Set(status.bricks.map(\.host)) == Set(Self.hosts))

            _ = try await b.client.setVolumeOption(volume: "shared", name: "server.root-squash", value: "off")
            #expect(try await a.client.volumeOptions(name: "shared").set == ["server.root-squash"])

            // Each daemon lists the others as its peers, not itself.
            for running in cluster.daemons {
                let peers = try await running.client.peers().map(\.host)
                #expect(Set(peers) == Set(Self.hosts).subtracting([running.host]), "peers seen by \(running.host)")
            }
            _ = try await a.client.stopVolume(name: "shared")
            try await c.client.deleteVolume(name: "shared")
            #expect(try await b.client.volumes().isEmpty)
        }
    }

    /// Creations through all three daemons at once: none is lost, a name taken twice is taken once, and every
    /// daemon then serves the same catalog.
    @Test func concurrentChangesThroughDifferentDaemonsAreSerialised() async throws {
        try await Self.withCluster { cluster in
            let harness = cluster.harness
            let outcomes = try await withThrowingTaskGroup(of: (String, Bool).self) { group in
                for (number, running) in cluster.daemons.enumerated() {
                    for volume in 0..<4 {
                        let brick = try harness.brickDirectory("v\(number)-\(volume)")
                        group.addTask {
                            _ = try await running.client.createVolume(
                                name: "v\(number)-\(volume)", bricks: ["\(running.host):\(brick)"])
                            return ("v\(number)-\(volume)", true)
                        }
                    }
                    let contested = try harness.brickDirectory("contested-\(number)")
                    group.addTask {
                        do {
                            _ = try await running.client.createVolume(
                                name: "contested", bricks: ["\(running.host):\(contested)"])
                            return ("contested", true)
                        } catch let error as FileSystemError where error.code == .exists {
                            return ("contested", false)
                        }
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(outcomes.filter { $0.0 == "contested" && $0.1 }.count == 1)
            let names = try await cluster.daemons[0].client.volumes().map(\.name)
            #expect(Set(names) == Set((0..<3).flatMap { n in (0..<4).map { "v\(n)-\($0)" } } + ["contested"]))
            for running in cluster.daemons.dropFirst() {
                try await eventually("\(running.host) serves the same catalog") {
                    try await running.client.volumes().map(\.name).sorted() == names.sorted()
                }
            }
        }
    }

    /// Exactly one daemon holds the manager role; when it stops another takes the role over, and the fence of the
    /// old holder no longer lets a membership change through.
    @Test func theManagerRoleMovesWhenItsHolderStops() async throws {
        try await Self.withCluster { cluster in
            let daemons = cluster.daemons
            func holders() -> [Running] { daemons.filter { $0.isRunning && $0.daemon.manager.role.isHeld } }
            try await eventually("one daemon holding the manager role") { holders().count == 1 }
            let first = try #require(holders().first)
            let oldFence = try #require(try first.daemon.manager.role.fence())
            let start = ContinuousClock.now
            try await first.stop()
            try await eventually("another daemon holding the manager role") { holders().count == 1 }
            print("manager role moved from \(first.host) to \(holders()[0].host) in \(ContinuousClock.now - start)")
            #expect(holders()[0].host != first.host)

            // A change fenced with the old holder's revision is refused as the role having moved.
            let store = EtcdCatalog(client: try cluster.etcd.client())
            let current = try #require(try await store.load())
            let refused = try await store.store(current.catalog, replacing: current.revision, fence: oldFence)
            guard case .failure(.roleLost) = refused else {
                Issue.record("a change fenced by a lost role was not refused as such: \(refused)")
                return
            }
        }
    }

    /// A catalog too large for one etcd request (65,536 revocations are allowed; a tenth of that is already more)
    /// is refused with its size before anything is sent, and the stored catalog stays as it was.
    @Test func aCatalogTooLargeForEtcdIsRefusedWithItsSize() async throws {
        let harness = try DaemonHarness("etcd-large")
        defer { harness.removeDirectory() }
        let etcd = try EtcdTestCluster(directory: harness.directory + "/etcd")
        try await etcd.start()
        let store = EtcdCatalog(client: try etcd.client())
        let empty = Catalog(managerHost: "127.0.0.2")
        guard case .success(let revision) = try await store.store(empty, replacing: 0, fence: nil) else {
            Issue.record("the first catalog was not stored")
            return try await etcd.destroy()
        }
        var large = empty
        let revocations = Dictionary(uniqueKeysWithValues: (0..<10_000).map { number in
            (String(format: "%064x", number), "client-certificate-of-some-long-name-\(number)")
        })
        _ = try large.apply(.revokeCertificates(revocations))
        await expectError(.noSpace, "etcd takes in one request") {
            _ = try await store.store(large, replacing: revision, fence: nil)
        }
        #expect(try await store.load()?.catalog == empty)
        try await etcd.destroy()
    }

    /// A daemon that managed alone brings its catalog into etcd on its first start with `--etcd`; the file is
    /// renamed so it is never taken for the live copy, and the other daemons see the volume.
    @Test func aCatalogFileIsImportedOnFirstStartWithEtcd() async throws {
        let harness = try DaemonHarness("etcd-import")
        defer { harness.removeDirectory() }
        var alone = harness.configuration
        alone.listenHost = "127.0.0.2"
        alone.advertisedHost = "127.0.0.2"
        alone.stateDirectory = harness.directory + "/state-127.0.0.2"
        let brick = try harness.brickDirectory("old")
        try await DaemonHarness(directory: harness.directory, configuration: alone, certificates: harness.certificates)
            .withDaemon { client, _ in
                _ = try await client.createVolume(name: "old", bricks: ["127.0.0.2:\(brick)"])
            }
        let etcd = try EtcdTestCluster(directory: harness.directory + "/etcd")
        try await etcd.start()
        try await Self.withDaemons(harness, etcd) { cluster in
            _ = try await cluster.start(host: "127.0.0.2")
            let other = try await cluster.start(host: "127.0.0.3")
            #expect(try await other.client.volumeInfo(name: "old").bricks.map(\.path) == [brick])
            #expect(!FileManager.default.fileExists(atPath: alone.catalogPath))
            #expect(FileManager.default.fileExists(atPath: alone.catalogPath + ".imported"))
        }
    }

    /// A probe confirms a host whose daemon shares etcd; a daemon that does not is refused with the reason.
    @Test func probeConfirmsDaemonsOfTheSameEtcdAndRefusesOthers() async throws {
        try await Self.withCluster { cluster in
            let probed = try await cluster.daemons[0].client.probePeer(host: "127.0.0.3", port: cluster.daemons[1].daemon.port)
            #expect(probed.host == "127.0.0.3")
            var outsider = cluster.harness.configuration
            outsider.listenHost = "127.0.0.5"
            outsider.advertisedHost = "127.0.0.5"
            outsider.stateDirectory = cluster.harness.directory + "/state-outsider"
            try await DaemonHarness(
                directory: cluster.harness.directory, configuration: outsider, certificates: cluster.harness.certificates
            ).withDaemon { _, daemon in
                await expectError(.invalidArgument, "does not use this cluster's etcd") {
                    _ = try await cluster.daemons[0].client.probePeer(host: "127.0.0.5", port: daemon.port)
                }
            }
        }
    }
}
