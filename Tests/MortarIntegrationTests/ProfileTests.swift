import Foundation
import Mortar
import MortarCore
import MortarManagementAPI
import MortarTesting
import Testing

/// `volume profile`, `volume top` and `volume status VOL clients` with real processes: a known workload through the
/// library shows in each with its numbers, by operation and by file; profiling off answers with one clear line.
@Suite("volume profile, top and status clients", .serialized)
struct ProfileTests {
    /// A daemon and a started one-brick volume.
    static func volume(_ name: String) async throws -> ProcessCluster {
        let cluster = try ProcessCluster()
        try await cluster.startDaemon()
        let brick = try cluster.makeBrickDirectory(name)
        try await cluster.expectSuccess("volume", "create", name, "127.0.0.1:" + brick)
        try await cluster.expectSuccess("volume", "start", name)
        try await waitUntil("the brick is online", seconds: 60) {
            try await cluster.brickProcesses(name).allSatisfy(\.online)
        }
        return cluster
    }

    static func decode<Value: Decodable>(_ type: Value.Type, _ result: CommandResult) throws -> Value {
        try JSONDecoder().decode(type, from: Data(result.output.utf8))
    }

    @Test func aKnownWorkloadShowsInProfileAndTop() async throws {
        let cluster = try await Self.volume("profiled")
        try await cluster.expectFailure("volume", "profile", "profiled", "info", mentioning: "is not started")
        try await cluster.expectSuccess("volume", "profile", "profiled", "start")

        // 20 writes of 4 KiB to /hot, 5 to /warm; /hot read back whole twice, /warm once; the root listed.
        let volume = try await cluster.connect("profiled")
        for (path, writes) in [("/hot", 20), ("/warm", 5)] {
            let file = try await volume.create(path)
            for index in 0..<writes { _ = try await file.write(Array(repeating: 0x68, count: 4096), at: UInt64(index * 4096)) }
            try await file.close()
        }
        for path in ["/hot", "/hot", "/warm"] {
            let file = try await volume.open(path)
            _ = try await file.read(count: 256 * 1024, at: 0)
            try await file.close()
        }
        _ = try await volume.listDirectory("/")
        await volume.close()

        let first = try Self.decode(VolumeProfile.self, try await cluster.expectSuccess("volume", "profile", "profiled", "info", "--json"))
        let brick = try #require(first.bricks.first?.value, "brick 0 did not answer: \(String(describing: first.bricks.first?.error))")
        #expect(brick.profiling)
        let write = try #require(brick.cumulative.operations.first { $0.operation == "write" })
        #expect(write.calls == 25 && write.errors == 0)
        #expect(write.bytesWritten == 25 * 4096)
        #expect(write.minNanoseconds > 0 && write.minNanoseconds <= write.averageNanoseconds)
        #expect(write.averageNanoseconds <= write.maxNanoseconds && write.p99Nanoseconds <= write.maxNanoseconds)
        #expect(brick.cumulative.bytesWritten == 25 * 4096)
        // Each file was read from the brick at least once (the library may serve a reread from its cache).
        #expect(brick.cumulative.bytesRead >= 25 * 4096, "read \(brick.cumulative.bytesRead) bytes")
        #expect(brick.interval.operations.first { $0.operation == "write" }?.calls == 25, "the first interval began at start")

        // The next info's interval holds only what came after the first (nothing); the cumulative stays.
        let second = try Self.decode(VolumeProfile.self, try await cluster.expectSuccess("volume", "profile", "profiled", "info", "--json"))
        let again = try #require(second.bricks.first?.value)
        #expect(again.cumulative.operations.first { $0.operation == "write" }?.calls == 25)
        #expect(again.interval.operations.isEmpty, "\(again.interval.operations)")
        let text = try await cluster.expectSuccess("volume", "profile", "profiled", "info").output
        #expect(text.contains("Cumulative Stats:") && text.contains("Data Written: 102400 bytes"), "\(text)")

        // The hottest files, with the paths the brick saw them created under.
        let writes = try Self.decode(VolumeTop.self, try await cluster.expectSuccess("volume", "top", "profiled", "write", "--json"))
        let written = try #require(writes.bricks.first?.value?.entries)
        #expect(written.map(\.path) == ["/hot", "/warm"])
        #expect(written.map(\.bytes) == [20 * 4096, 5 * 4096])
        // Every byte read was read from one of the two files, and top says which.
        let reads = try Self.decode(VolumeTop.self, try await cluster.expectSuccess("volume", "top", "profiled", "read", "--json"))
        let read = try #require(reads.bricks.first?.value?.entries)
        #expect(Set(read.map(\.path)) == ["/hot", "/warm"] && read.first?.path == "/hot", "\(read)")
        #expect(read.map(\.bytes).reduce(0, +) == brick.cumulative.bytesRead)
        let hottest = try Self.decode(VolumeTop.self, try await cluster.expectSuccess("volume", "top", "profiled", "read", "--count", "1", "--json"))
        #expect(hottest.bricks.first?.value?.entries.map(\.path) == ["/hot"])
        let opens = try Self.decode(VolumeTop.self, try await cluster.expectSuccess("volume", "top", "profiled", "open", "--json"))
        let opened = try #require(opens.bricks.first?.value?.entries)
        #expect(opened.first?.path == "/hot" && (opened.first?.count ?? 0) >= 3, "\(opened)")
        let listings = try Self.decode(VolumeTop.self, try await cluster.expectSuccess("volume", "top", "profiled", "opendir", "--json"))
        #expect(listings.bricks.first?.value?.entries.first?.path == "/")
        let table = try await cluster.expectSuccess("volume", "top", "profiled", "write").output
        #expect(table.contains("81920") && table.contains("/hot"), "\(table)")

        // Stopped: counts are dropped, and both commands say profiling is off.
        try await cluster.expectSuccess("volume", "profile", "profiled", "stop")
        try await waitUntil("the brick stops profiling", seconds: 30) {
            let profile = try await cluster.managementClient().volumeProfile(name: "profiled")
            return profile.bricks.first?.value?.profiling == false
        }
        try await cluster.expectFailure("volume", "profile", "profiled", "info", mentioning: "is not started")
        try await cluster.expectFailure("volume", "top", "profiled", "read", mentioning: "is not profiled")
        // Restarted, it counts from zero.
        try await cluster.expectSuccess("volume", "profile", "profiled", "start")
        let fresh = try Self.decode(VolumeProfile.self, try await cluster.expectSuccess("volume", "profile", "profiled", "info", "--json"))
        #expect(fresh.bricks.first?.value?.cumulative.operations.first { $0.operation == "write" } == nil)
        await cluster.tearDown()
    }

    @Test func statusClientsListsConnectionsWithTheirOpenFiles() async throws {
        let cluster = try await Self.volume("watched")
        let volume = try await cluster.connect("watched")
        let file = try await volume.create("/open")
        _ = try await file.write(Array(repeating: 0x6f, count: 8192), at: 0)
        let clients = try Self.decode(VolumeClients.self, try await cluster.expectSuccess("volume", "status", "watched", "clients", "--json"))
        let listed = try #require(clients.bricks.first?.value)
        let library = listed.clients.filter { $0.name == "mortar-client/\(getpid())" }
        #expect(library.count == 1, "\(listed.clients)")
        #expect(library.first?.openFiles == 1 && library.first?.bytesWritten == 8192, "\(library)")
        // On the brick's host, as root, the library reaches the brick over its Unix socket.
        #expect(library.first?.address == "local" && library.first?.certificate == "local root", "\(library)")
        #expect(listed.total == listed.clients.count)
        #expect(!listed.clients.contains { $0.name == "mortar-daemon/diagnostics" }, "the question's own connection was listed")
        let text = try await cluster.expectSuccess("volume", "status", "watched", "clients").output
        #expect(text.contains("Clients connected :") && text.contains("mortar-client/\(getpid())"), "\(text)")
        try await file.close()
        await volume.close()

        // Which files clients use, and who they are, is for admins: a client certificate is refused.
        let asClient = try cluster.managementClient(credentials: cluster.certificates.clientDirectory)
        let refused = await #expect(throws: FileSystemError.self) { _ = try await asClient.volumeClients(name: "watched") }
        #expect(refused?.code == .permissionDenied, "\(String(describing: refused))")
        try await cluster.expectFailure("volume", "status", "watched", "bogus", mentioning: "'detail' or 'clients'")
        try await cluster.expectFailure("volume", "top", "watched", "hottest", mentioning: "open, read, write or opendir")
        try await cluster.expectFailure("volume", "top", "watched", "read", "--count", "0", mentioning: "--count is 1 to 100")
        await cluster.tearDown()
    }
}
