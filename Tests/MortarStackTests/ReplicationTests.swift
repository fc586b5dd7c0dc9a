import Foundation
import MortarCore
import MortarMembership
import MortarPosixStorage
import MortarProtocolClient
import MortarReplicaMember
import MortarReplicate
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// The manager's part, in memory: the set's membership, and the views bricks and clients read from it.
final class InMemoryManager: MembershipSource, Sendable {
    let membership: Mutex<ReplicaSetMembership>
    let reports = Mutex<[MembershipEvent]>([])

    init(members: Int, minInSync: Int) {
        membership = Mutex(ReplicaSetMembership(setIndex: 0, memberCount: members, minInSync: minInSync))
    }

    var view: ReplicaSetView { membership.withLock { $0.view } }

    func apply(_ event: MembershipEvent) throws -> ReplicaSetView {
        try membership.withLock { state in
            try state.apply(event)
            return state.view
        }
    }

    func view(ofSet setIndex: Int) -> ReplicaSetView { view }

    func refresh(set setIndex: Int, newerThan epoch: UInt64, waitingAtMost milliseconds: Int64) async
        -> ReplicaSetView
    {
        let deadline = ContinuousClock.now + .milliseconds(milliseconds)
        while view.epoch <= epoch && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        return view
    }
}

/// A member's surroundings in the test: the in-memory manager, and protocol clients to the other members.
final class InMemoryAgent: ReplicaSetAgent, Sendable {
    let member: Int
    let manager: InMemoryManager
    let peers = Mutex<[Int: ProtocolClient]>([:])

    init(member: Int, manager: InMemoryManager) {
        self.member = member
        self.manager = manager
    }

    var view: ReplicaSetView { manager.view }

    func view(atLeast epoch: UInt64, waitingAtMost milliseconds: Int64) async -> ReplicaSetView {
        await manager.refresh(set: 0, newerThan: epoch - 1, waitingAtMost: milliseconds)
    }

    func reportForwardFailed(member failed: Int, epoch: UInt64) async throws -> ReplicaSetView {
        manager.reports.withLock { $0.append(.forwardFailed(member: failed, epoch: epoch)) }
        return try manager.apply(.forwardFailed(member: failed, epoch: epoch))
    }

    func peer(_ member: Int) -> any FileOperations {
        peers.withLock { $0[member]! }
    }
}

/// Three bricks on loopback, each a real brick service over PosixStorage with a replica member layer, and a
/// client's replicate layer over them.
struct ReplicaSetFixture {
    let manager: InMemoryManager
    let bricks: [LoopbackBrick]
    let client: Replicate

    static func start(members: Int = 3, minInSync: Int = 2) async throws -> ReplicaSetFixture {
        let manager = InMemoryManager(members: members, minInSync: minInSync)
        var bricks: [LoopbackBrick] = []
        var agents: [InMemoryAgent] = []
        for member in 0..<members {
            let directory = try LoopbackBrick.makeTemporaryDirectory("mortar-replica")
            let storage = try await PosixStorage.prepare(
                root: directory, threadPool: .singleton, logger: OperationContext.silentLogger)
            let agent = InMemoryAgent(member: member, manager: manager)
            let layer = ReplicaMemberLayer(next: storage, agent: agent, logger: OperationContext.silentLogger)
            bricks.append(try await LoopbackBrick.start(root: directory, storage: layer))
            agents.append(agent)
        }
        for agent in agents {
            for (index, brick) in bricks.enumerated() where index != agent.member {
                agent.peers.withLock { $0[index] = Self.memberClient(brick) }
            }
        }
        let client = Replicate(
            children: bricks.map(Self.memberClient), setIndex: 0, membership: manager,
            logger: OperationContext.silentLogger)
        return ReplicaSetFixture(manager: manager, bricks: bricks, client: client)
    }

    static func memberClient(_ brick: LoopbackBrick) -> ProtocolClient {
        ProtocolClient(
            endpoint: brick.endpoint, clientName: "replica-test", eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
            logger: OperationContext.silentLogger, requestTimeout: .seconds(10), reconnectWindowMilliseconds: 0)
    }

    func stop() async {
        for brick in bricks {
            await brick.stop()
            brick.removeDirectory()
        }
    }

    /// The bytes of a file as stored in brick `index`'s directory.
    func contents(ofBrick index: Int, _ name: String) -> Data? {
        FileManager.default.contents(atPath: bricks[index].root + "/" + name)
    }
}

@Suite("Replication over loopback bricks", .serialized)
struct ReplicationTests {
    let context = OperationContext()

    static func bytes(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    @Test func changesReachEveryMemberBeforeTheyAreAcknowledged() async throws {
        let set = try await ReplicaSetFixture.start()
        defer { Task { await set.stop() } }
        let client = set.client
        _ = try await client.makeDirectory("dir", in: .root, id: .random(), permissions: 0o755, context: context)
        let dirID = try await client.lookup("dir", in: .root, context: context).id
        let file = try await client.create(
            "data", in: dirID, id: .random(), permissions: 0o644, flags: [.readWrite, .create], context: context)
        var offset: UInt64 = 0
        for index in 0..<64 {
            let text = "record \(index)\n"
            offset += UInt64(try await client.write(Self.bytes(text), to: file.file, at: offset, context: context))
        }
        try await client.truncate(file.file, to: offset - 3, context: context)
        try await client.synchronize(file.file, dataOnly: false, context: context)
        try await client.release(file.file, context: context)
        try await client.rename("data", in: dirID, to: "renamed", in: dirID, flags: [], context: context)
        let expected = set.contents(ofBrick: 0, "dir/renamed")
        #expect(expected?.count == Int(offset) - 3)
        for member in 1..<3 {
            #expect(set.contents(ofBrick: member, "dir/renamed") == expected, "member \(member) differs")
        }
    }

    @Test func appendsLandAtTheSameOffsetOnEveryMember() async throws {
        let set = try await ReplicaSetFixture.start()
        defer { Task { await set.stop() } }
        let client = set.client
        let created = try await client.create(
            "log", in: .root, id: .random(), permissions: 0o644, flags: [.write, .create, .append], context: context)
        for index in 0..<20 {
            _ = try await client.write(Self.bytes("line \(index)\n"), to: created.file, at: 0, context: context)
        }
        try await client.release(created.file, context: context)
        let expected = set.contents(ofBrick: 0, "log")
        #expect(expected.map { String(decoding: $0, as: UTF8.self) }?.hasPrefix("line 0\nline 1\n") == true)
        for member in 1..<3 { #expect(set.contents(ofBrick: member, "log") == expected) }
    }

    @Test func aMemberThatDiesIsReportedAndWritesGoOn() async throws {
        let set = try await ReplicaSetFixture.start()
        defer { Task { await set.stop() } }
        let client = set.client
        let id = FileID.random()
        let file = try await client.create(
            "file", in: .root, id: id, permissions: 0o644, flags: [.readWrite, .create], context: context
        ).file
        let primary = try #require(set.manager.view.primary(for: id))
        let victim = (primary + 1) % 3
        _ = try await client.write(Self.bytes("before "), to: file, at: 0, context: context)
        await set.bricks[victim].stop()
        let written = try await client.write(Self.bytes("after"), to: file, at: 7, context: context)
        #expect(written == 5)
        let view = set.manager.view
        #expect(view.members[victim] == .outOfSync)
        #expect(view.epoch == 2)
        #expect(set.manager.reports.withLock { $0 } == [.forwardFailed(member: victim, epoch: 1)])
        for member in view.inSyncMembers {
            #expect(set.contents(ofBrick: member, "file") == Data("before after".utf8), "member \(member)")
        }
        let read = try await client.read(from: file, at: 0, count: 100, context: context)
        #expect(String(buffer: read) == "before after")
    }

    @Test func aDeadPrimaryIsReplacedAndTheClientCarriesOn() async throws {
        let set = try await ReplicaSetFixture.start()
        defer { Task { await set.stop() } }
        let client = set.client
        let id = FileID.random()
        let file = try await client.create(
            "file", in: .root, id: id, permissions: 0o644, flags: [.readWrite, .create], context: context
        ).file
        _ = try await client.write(Self.bytes("first "), to: file, at: 0, context: context)
        let primary = try #require(set.manager.view.primary(for: id))
        await set.bricks[primary].stop()
        // The failure detector's part: the manager takes the member out while the client is retrying.
        let detector = Task {
            try await Task.sleep(for: .milliseconds(200))
            _ = try set.manager.apply(.unreachable(member: primary))
        }
        _ = try await client.write(Self.bytes("second"), to: file, at: 6, context: context)
        try await detector.value
        let newPrimary = try #require(set.manager.view.primary(for: id))
        #expect(newPrimary != primary)
        let read = try await client.read(from: file, at: 0, count: 100, context: context)
        #expect(String(buffer: read) == "first second")
    }

    @Test func writesAreRefusedBelowTheMinimumAndAStaleEpochIsRefused() async throws {
        let set = try await ReplicaSetFixture.start()
        defer { Task { await set.stop() } }
        let client = set.client
        let id = FileID.random()
        let file = try await client.create(
            "file", in: .root, id: id, permissions: 0o644, flags: [.readWrite, .create], context: context
        ).file
        let primary = try #require(set.manager.view.primary(for: id))
        let others = (0..<3).filter { $0 != primary }
        _ = try set.manager.apply(.unreachable(member: others[0]))
        _ = try set.manager.apply(.unreachable(member: others[1]))
        await #expect(throws: FileSystemError.self) {
            _ = try await client.write(Self.bytes("x"), to: file, at: 0, context: context)
        }
        // A request stamped with an old epoch reaches a member directly: refused, whatever it asks.
        let direct = ReplicaSetFixture.memberClient(set.bricks[primary])
        var stale = context
        stale.replication = ReplicationStamp(epoch: 1, role: .client)
        do {
            _ = try await direct.attributes(of: .root, context: stale)
            Issue.record("a request of epoch 1 was served in epoch \(set.manager.view.epoch)")
        } catch let error as FileSystemError {
            #expect(error.code == .membershipChanged)
        }
    }
}
