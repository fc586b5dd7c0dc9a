import Foundation
import MortarBrick
import MortarCore
import MortarMembership
import MortarProtocolClient
import MortarSecurity
@testable import MortarReplicaMember
import MortarReplicate
import MortarTesting
import MortarTransport
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// The manager's part, in memory: the set's membership, and the views bricks and clients read from it.
final class InMemoryManager: MembershipSource, Sendable {
    let membership: Mutex<ReplicaSetMembership>
    let reports = Mutex<[MembershipEvent]>([])
    /// Members' view observers, told of every change under the membership's lock (as ManagedMembership does).
    let observers = Mutex<[@Sendable (ReplicaSetView) -> Void]>([])

    init(members: Int, minInSync: Int) {
        membership = Mutex(ReplicaSetMembership(setIndex: 0, memberCount: members, minInSync: minInSync))
    }

    var view: ReplicaSetView { membership.withLock { $0.view } }

    func apply(_ event: MembershipEvent) throws -> ReplicaSetView {
        try membership.withLock { state in
            let before = state.view.epoch
            try state.apply(event)
            if state.view.epoch != before { for observer in observers.withLock({ $0 }) { observer(state.view) } }
            return state.view
        }
    }

    func observe(_ handler: @escaping @Sendable (ReplicaSetView) -> Void) {
        membership.withLock { state in
            observers.withLock { $0.append(handler) }
            handler(state.view)
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
    /// How many times the member asked the manager for a newer view (``view(atLeast:waitingAtMost:)``).
    let viewRequests = Atomic<Int>(0)

    init(member: Int, manager: InMemoryManager) {
        self.member = member
        self.manager = manager
    }

    var view: ReplicaSetView { manager.view }

    func view(atLeast epoch: UInt64, waitingAtMost milliseconds: Int64) async -> ReplicaSetView {
        viewRequests.add(1, ordering: .relaxed)
        return await manager.refresh(set: 0, newerThan: epoch - 1, waitingAtMost: milliseconds)
    }

    func report(_ event: MembershipEvent) async throws -> ReplicaSetView {
        manager.reports.withLock { $0.append(event) }
        return try manager.apply(event)
    }

    func install(_ view: ReplicaSetView) {}

    func observeViews(_ handler: @escaping @Sendable (ReplicaSetView) -> Void) { manager.observe(handler) }

    func peer(_ member: Int) -> any FileOperations {
        peers.withLock { $0[member]! }
    }
}

/// Three bricks on loopback, each the stack a brick process serves (`BrickStack`, a member of the set), and a
/// client's replicate layer over them. Members can be stopped and started again on the same directory and port.
final class ReplicaSetFixture: @unchecked Sendable {
    let manager: InMemoryManager
    private(set) var bricks: [LoopbackBrick]
    private(set) var layers: [ReplicaMemberLayer]
    /// Between each member layer and its storage: faults are injected here.
    private(set) var storages: [LayerHarness]
    let agents: [InMemoryAgent]
    let client: Replicate
    /// Heal workers ``startHealing()`` asks for, run by ``with(members:minInSync:_:)``.
    private let healStarts: AsyncStream<HealWorker>
    private let healStartSink: AsyncStream<HealWorker>.Continuation

    private init(
        manager: InMemoryManager, bricks: [LoopbackBrick], layers: [ReplicaMemberLayer], storages: [LayerHarness],
        agents: [InMemoryAgent]
    ) {
        self.manager = manager
        self.bricks = bricks
        self.layers = layers
        self.storages = storages
        self.agents = agents
        (healStarts, healStartSink) = AsyncStream.makeStream(of: HealWorker.self)
        client = Replicate(
            children: bricks.map(Self.memberClient), setIndex: 0, membership: manager,
            logger: OperationContext.silentLogger)
    }

    /// Each member's Unix socket beside its directory, when the set was started with them (short-circuit reads).
    static func unixSocket(of directory: String) -> String { directory + ".sock" }

    /// A protocol client of member `index` over its Unix socket (the set must have been started with them).
    func unixClient(_ index: Int) -> ProtocolClient {
        ProtocolClient(
            endpoint: .unixSocket(path: Self.unixSocket(of: bricks[index].root)), clientName: "replica-test-local",
            security: .insecure, eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
            logger: OperationContext.silentLogger, requestTimeout: .seconds(10), reconnectWindowMilliseconds: 0)
    }

    private static func start(members: Int, minInSync: Int, unixSockets: Bool) async throws -> ReplicaSetFixture {
        let manager = InMemoryManager(members: members, minInSync: minInSync)
        var bricks: [LoopbackBrick] = []
        var layers: [ReplicaMemberLayer] = []
        var storages: [LayerHarness] = []
        var agents: [InMemoryAgent] = []
        for member in 0..<members {
            let directory = try LoopbackBrick.makeTemporaryDirectory("mortar-replica")
            let agent = InMemoryAgent(member: member, manager: manager)
            let (brick, layer, storage) = try await startMember(
                directory: directory, port: 0, agent: agent, unixSockets: unixSockets)
            bricks.append(brick)
            layers.append(layer)
            storages.append(storage)
            agents.append(agent)
        }
        for agent in agents {
            for (index, brick) in bricks.enumerated() where index != agent.member {
                agent.peers.withLock { $0[index] = Self.memberClient(brick) }
            }
        }
        return ReplicaSetFixture(manager: manager, bricks: bricks, layers: layers, storages: storages, agents: agents)
    }

    private static func startMember(directory: String, port: Int, agent: InMemoryAgent, unixSockets: Bool = false)
        async throws -> (LoopbackBrick, ReplicaMemberLayer, LayerHarness)
    {
        var harness: LayerHarness?
        let brick = try await LoopbackBrick.start(
            root: directory, port: port, unixSocket: unixSockets ? unixSocket(of: directory) : nil, replica: .agent(agent)
        ) { storage in
            let layer = LayerHarness(next: storage)
            harness = layer
            return layer
        }
        guard let layer = brick.stack.replicaMember, let harness else {
            throw FileSystemError(.inputOutput, "member \(agent.member)'s brick was assembled without a member layer")
        }
        return (brick, layer, harness)
    }

    static func memberClient(_ brick: LoopbackBrick) -> ProtocolClient {
        ProtocolClient(
            endpoint: brick.endpoint, clientName: "replica-test", security: .insecure, eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
            logger: OperationContext.silentLogger, requestTimeout: .seconds(10), reconnectWindowMilliseconds: 0)
    }

    /// Stops member `index`'s brick, as if its process died.
    func stopMember(_ index: Int) async {
        await bricks[index].stop()
    }

    /// Starts member `index` again on its directory and port (its journal reloads from its markers).
    func restartMember(_ index: Int) async throws {
        let (brick, layer, storage) = try await Self.startMember(
            directory: bricks[index].root, port: bricks[index].port, agent: agents[index])
        bricks[index] = brick
        layers[index] = layer
        storages[index] = storage
    }

    /// Waits (at most 30 s) until `member` is in sync again; throws naming the member, the bound and the view
    /// when it is not.
    func waitUntilInSync(_ member: Int) async throws {
        let bound = Duration.seconds(30)
        let deadline = ContinuousClock.now + bound
        while manager.view.members[member] != .inSync {
            guard ContinuousClock.now < deadline else {
                throw FileSystemError(
                    .timedOut, "member \(member) was not in sync within \(bound): \(manager.view)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Starts every member's heal worker, as a child of ``with(members:minInSync:_:)``'s task group: they run
    /// until the test's body ends, and are cancelled and awaited before the bricks stop.
    func startHealing() {
        for layer in layers {
            healStartSink.yield(HealWorker(layer: layer, logger: OperationContext.silentLogger))
        }
    }

    /// Starts a set, runs `body` with it, and stops it on every way out of `body`, awaited: heal workers first,
    /// then the bricks (whose directories are removed).
    static func with(
        members: Int = 3, minInSync: Int = 2, unixSockets: Bool = false,
        _ body: (ReplicaSetFixture) async throws -> Void
    ) async throws {
        let set = try await start(members: members, minInSync: minInSync, unixSockets: unixSockets)
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    await withDiscardingTaskGroup { workers in
                        // Ends when the group is cancelled; the workers are cancelled with it and awaited here.
                        for await worker in set.healStarts {
                            workers.addTask { await worker.run(idleMilliseconds: 50) }
                        }
                    }
                }
                try await body(set)
                group.cancelAll()
            }
        } catch {
            await set.stop()
            throw error
        }
        await set.stop()
    }

    private func stop() async {
        for brick in bricks {
            await brick.stop()
            brick.removeDirectory()
            unlink(MemberStateWord.path(besides: Self.unixSocket(of: brick.root)))  // absent without Unix sockets
        }
    }

    /// The bytes of a file as stored in brick `index`'s directory.
    func contents(ofBrick index: Int, _ name: String) -> Data? {
        FileManager.default.contents(atPath: bricks[index].root + "/" + name)
    }

    /// Every path under brick `index`'s directory (without `.mortar`), with its type, mode and content.
    func tree(ofBrick index: Int) throws -> [String: String] {
        let root = bricks[index].root
        var result: [String: String] = [:]
        let enumerator = FileManager.default.enumerator(atPath: root)
        while let path = enumerator?.nextObject() as? String {
            if path == ".mortar" || path.hasPrefix(".mortar/") { continue }
            let attributes = try FileManager.default.attributesOfItem(atPath: root + "/" + path)
            let type = attributes[.type] as? FileAttributeType
            let mode = (attributes[.posixPermissions] as? Int).map { String($0, radix: 8) } ?? "?"
            var description = "\(type?.rawValue ?? "?") \(mode)"
            if type == .typeRegular, let data = FileManager.default.contents(atPath: root + "/" + path) {
                description += " \(data.count) bytes \(data.hashValue)"
            } else if type == .typeSymbolicLink {
                description += " -> " + ((try? FileManager.default.destinationOfSymbolicLink(atPath: root + "/" + path)) ?? "?")
            }
            result[path] = description
        }
        return result
    }
}

@Suite("Replication over loopback bricks", .serialized)
struct ReplicationTests {
    let context = OperationContext()

    static func bytes(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    static func createFile(_ name: String, id: FileID, on client: Replicate) async throws -> OpenFile {
        try await client.create(
            name, in: .root, id: id, permissions: 0o644, flags: [.readWrite, .create], context: OperationContext()
        ).file
    }

    @Test func changesReachEveryMemberBeforeTheyAreAcknowledged() async throws {
        try await ReplicaSetFixture.with { set in
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
    }

    @Test func appendsLandAtTheSameOffsetOnEveryMember() async throws {
        try await ReplicaSetFixture.with { set in
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
    }

    @Test func aMemberThatDiesIsReportedAndWritesGoOn() async throws {
        try await ReplicaSetFixture.with { set in
            let client = set.client
            let id = FileID.random()
            let file = try await Self.createFile("file", id: id, on: client)
            let primary = try #require(set.manager.view.primary(for: id))
            let victim = (primary + 1) % 3
            _ = try await client.write(Self.bytes("before "), to: file, at: 0, context: context)
            await set.stopMember(victim)
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
    }

    @Test func aDeadPrimaryIsReplacedAndTheClientCarriesOn() async throws {
        try await ReplicaSetFixture.with { set in
            let client = set.client
            let id = FileID.random()
            let file = try await Self.createFile("file", id: id, on: client)
            _ = try await client.write(Self.bytes("first "), to: file, at: 0, context: context)
            let primary = try #require(set.manager.view.primary(for: id))
            await set.stopMember(primary)
            // The failure detector's part: the manager takes the member out while the client is retrying.
            // `async let`: awaited on every way out, even if the write throws.
            async let detector: Void = {
                try await Task.sleep(for: .milliseconds(200))
                _ = try set.manager.apply(.unreachable(member: primary))
            }()
            _ = try await client.write(Self.bytes("second"), to: file, at: 6, context: context)
            try await detector
            let newPrimary = try #require(set.manager.view.primary(for: id))
            #expect(newPrimary != primary)
            let read = try await client.read(from: file, at: 0, count: 100, context: context)
            #expect(String(buffer: read) == "first second")
        }
    }

    @Test func writesAreRefusedBelowTheMinimumAndAStaleEpochIsRefused() async throws {
        try await ReplicaSetFixture.with { set in
            let client = set.client
            let id = FileID.random()
            let file = try await Self.createFile("file", id: id, on: client)
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

    /// Idle heal workers ask the manager nothing: they wake on the views their brick learns (pushed with every
    /// heartbeat in a real cluster). They used to poll it for a newer view without end, which on a real brick was a
    /// management request over a new TLS connection ten times a second per brick. A view change still wakes them:
    /// a member that returns is healed and rejoins.
    @Test func idleHealWorkersDoNotAskTheManagerForViews() async throws {
        try await ReplicaSetFixture.with { set in
            set.startHealing()
            // The workers idle 50 ms at a time here: a second is twenty rounds each.
            try await Task.sleep(for: .seconds(1))
            let asked = set.agents.map { $0.viewRequests.load(ordering: .relaxed) }
            #expect(asked == [0, 0, 0], "idle workers asked the manager for views \(asked) times")
            _ = try set.manager.apply(.unreachable(member: 1))
            _ = try set.manager.apply(.reachable(member: 1))
            let started = ContinuousClock.now
            try await set.waitUntilInSync(1)
            print("a returning member was healed and in sync after \(ContinuousClock.now - started)")
        }
    }

    /// A primary whose disk hangs mid-write does not hold the client's write until the member's request timeout or
    /// the disk comes back: once the reply is overdue, the connection's watch (``ReplyWatch``) finds the newer view
    /// in which another member is the file's primary, ends the call, and the write goes there. Here the client's
    /// request timeout is two minutes and the disk hangs for ninety seconds, so only the watch can end it sooner.
    @Test func aWriteStuckOnAHungPrimaryMovesToTheNewPrimary() async throws {
        try await ReplicaSetFixture.with { set in
            let patient = Replicate(
                children: set.bricks.map { brick in
                    ProtocolClient(
                        endpoint: brick.endpoint, clientName: "replica-test-patient", security: .insecure,
                        eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: OperationContext.silentLogger,
                        requestTimeout: .seconds(120), reconnectWindowMilliseconds: 0)
                }, setIndex: 0, membership: set.manager, logger: OperationContext.silentLogger)
            let id = FileID.random()
            let file = try await Self.createFile("hung", id: id, on: patient)
            let primary = try #require(set.manager.view.primary(for: id))
            let disk = Gate()
            set.storages[primary].stallNext(.write, until: disk)
            let started = ContinuousClock.now
            let written = try await withThrowingTaskGroup(of: Int?.self) { group in
                group.addTask { try await patient.write(Self.bytes("after the hang"), to: file, at: 0, context: self.context) }
                group.addTask {
                    try await Task.sleep(for: .seconds(90))
                    disk.open()
                    return nil
                }
                let deadline = ContinuousClock.now + .seconds(60)
                while disk.waiterCount == 0 {
                    guard ContinuousClock.now < deadline else { throw FileSystemError(.timedOut, "the write never reached the primary's disk") }
                    try await Task.sleep(for: .milliseconds(10))
                }
                // The manager takes the hung member out, as its missed heartbeats would make it.
                _ = try set.manager.apply(.unreachable(member: primary))
                while let next = try await group.next() {
                    if let written = next {
                        group.cancelAll()
                        return written
                    }
                }
                throw FileSystemError(.inputOutput, "the write never finished")
            }
            let elapsed = ContinuousClock.now - started
            print("a write stuck on a hung primary finished on the new primary after \(elapsed)")
            disk.open()
            #expect(written == 14)
            #expect(elapsed < .seconds(60), "the write waited for the hung disk (\(elapsed)), not for the newer view")
            let back = try await patient.read(from: file, at: 0, count: 64, context: context)
            #expect(String(buffer: back) == "after the hang")
        }
    }

    /// A client whose view source never moves past an old epoch (its manager stalled or unreachable) retries the
    /// members' refusals for its failover window and then fails with ETIMEDOUT naming the set: EREMCHG is this
    /// layer's own signal to fetch a view and must never reach an application.
    @Test func aViewThatNeverComesFailsAsATimeoutNotAsAStaleEpoch() async throws {
        try await ReplicaSetFixture.with { set in
            let frozen = set.manager.view
            _ = try set.manager.apply(.unreachable(member: 2))
            let stuck = Replicate(
                children: set.bricks.map(ReplicaSetFixture.memberClient), setIndex: 0,
                membership: FrozenMembership(view: frozen), logger: OperationContext.silentLogger,
                failoverWindow: .milliseconds(600))
            let started = ContinuousClock.now
            do {
                _ = try await stuck.attributes(of: .root, context: context)
                Issue.record("a request of epoch \(frozen.epoch) was served in epoch \(set.manager.view.epoch)")
            } catch let error as FileSystemError {
                #expect(error.code == .timedOut, "\(error)")
                #expect(error.message.contains("replica set 0"), "\(error)")
            }
            print("a client stuck in epoch \(frozen.epoch) gave up after \(ContinuousClock.now - started)")
        }
    }

    /// A member down while a large file is partly rewritten, files and directories are made and removed: when it
    /// returns, the heal copies what changed (not the whole file), the member rejoins, and every brick directory is
    /// identical.
    @Test func aReturningMemberIsHealedIncrementallyAndRejoins() async throws {
        try await ReplicaSetFixture.with { set in
            let client = set.client
            let big = try await client.create(
                "big", in: .root, id: .random(), permissions: 0o644, flags: [.readWrite, .create], context: context
            ).file
            let megabyte = ByteBuffer(repeating: 0x61, count: 1 << 20)
            for index in 0..<8 {
                _ = try await client.write(megabyte, to: big, at: UInt64(index) << 20, context: context)
            }
            let doomed = try await client.create(
                "doomed", in: .root, id: .random(), permissions: 0o644, flags: [.readWrite, .create], context: context
            ).file
            try await client.release(doomed, context: context)
            // Each member forgets the changes it applied once they are settled, as its heal worker does every half
            // second (a member that stopped with changes it never saw settled copies those files whole on return).
            for layer in set.layers {
                await HealWorker(layer: layer, logger: OperationContext.silentLogger).settleIntents(set.manager.view)
            }
            #expect(set.layers.indices.allSatisfy { set.layers[$0].journal.isEmpty(for: $0) })
            let away = 2
            await set.stopMember(away)
            _ = try set.manager.apply(.unreachable(member: away))
            // While it is away: 64 KiB rewritten in the middle of the 8 MiB file, a new directory with a file and a
            // symbolic link, a removal, a rename and a mode change.
            let changed = ByteBuffer(repeating: 0x62, count: 64 << 10)
            _ = try await client.write(changed, to: big, at: 3 << 20, context: context)
            let directoryID = FileID.random()
            _ = try await client.makeDirectory("new", in: .root, id: directoryID, permissions: 0o750, context: context)
            let inner = try await client.create(
                "inner", in: directoryID, id: .random(), permissions: 0o600, flags: [.readWrite, .create], context: context
            ).file
            _ = try await client.write(ByteBuffer(string: "made while away"), to: inner, at: 0, context: context)
            try await client.release(inner, context: context)
            _ = try await client.makeSymbolicLink("link", in: directoryID, id: .random(), target: "inner", context: context)
            try await client.unlink("doomed", in: .root, context: context)
            try await client.rename("big", in: .root, to: "large", in: .root, flags: [], context: context)
            _ = try await client.setAttributes(AttributeChanges(permissions: 0o640), of: big.id, context: context)
            try await client.release(big, context: context)

            try await set.restartMember(away)
            set.startHealing()
            _ = try set.manager.apply(.reachable(member: away))
            try await set.waitUntilInSync(away)
            #expect(set.manager.view.members[away] == .inSync, "member \(away) did not rejoin: \(set.manager.view)")
            let reference = try set.tree(ofBrick: 0)
            #expect(reference["new/inner"] != nil && reference["large"] != nil && reference["doomed"] == nil)
            for member in 1..<3 {
                let tree = try set.tree(ofBrick: member)
                let differing = Set(tree.keys).union(reference.keys).filter { tree[$0] != reference[$0] }.sorted()
                #expect(differing.isEmpty, "brick \(member) differs from brick 0: \(differing.map { "\($0): \(tree[$0] ?? "absent") vs \(reference[$0] ?? "absent")" })")
            }
            let healed = set.layers.map(\.bytesHealed).reduce(0, +)
            #expect(healed >= 64 << 10, "heal copied \(healed) bytes")
            #expect(healed < 1 << 20, "heal copied \(healed) bytes: more than what changed")
        }
    }

    /// The change that found a member dead is on nobody's record when it is admitted (the member was in sync);
    /// the primary has every in-sync member record it before acknowledging, so the heal brings it back.
    @Test func theChangeAMemberFailedIsHealedToo() async throws {
        try await ReplicaSetFixture.with { set in
            let client = set.client
            let id = FileID.random()
            let file = try await Self.createFile("file", id: id, on: client)
            _ = try await client.write(ByteBuffer(string: "before "), to: file, at: 0, context: context)
            let primary = try #require(set.manager.view.primary(for: id))
            let victim = (primary + 1) % 3
            await set.stopMember(victim)
            _ = try await client.write(ByteBuffer(string: "after"), to: file, at: 7, context: context)
            try await client.release(file, context: context)
            #expect(set.manager.view.members[victim] == .outOfSync)
            try await set.restartMember(victim)
            set.startHealing()
            _ = try set.manager.apply(.reachable(member: victim))
            try await set.waitUntilInSync(victim)
            #expect(set.manager.view.members[victim] == .inSync, "member \(victim) did not rejoin: \(set.manager.view)")
            #expect(set.contents(ofBrick: victim, "file") == Data("before after".utf8))
        }
    }

    // MARK: Faults on the heal path: no error counts as "healed"

    /// Restarts member `away`, heals, and waits (at most 30 s) for it to rejoin.
    private func healAndWait(_ set: ReplicaSetFixture, _ away: Int) async throws {
        set.startHealing()
        _ = try set.manager.apply(.reachable(member: away))
        try await set.waitUntilInSync(away)
    }

    /// The item's orderer answers ENOENT (its name is not on the member yet) and the heal source cannot read the
    /// item itself (EIO): that is no proof the item is gone, so the record stays and the item is healed later.
    @Test func aLocalReadErrorDoesNotCountAsHealed() async throws {
        try await ReplicaSetFixture.with { set in
            let away = 2
            await set.stopMember(away)
            _ = try set.manager.apply(.unreachable(member: away))
            let id = FileID.random()
            let file = try await Self.createFile("made-while-away", id: id, on: set.client)
            _ = try await set.client.write(ByteBuffer(string: "must reach member 2"), to: file, at: 0, context: context)
            try await set.client.release(file, context: context)
            try await set.restartMember(away)
            let source = 0
            let orderer = try #require(set.manager.view.primary(for: id))
            set.storages[orderer].failNext(.attributes, about: id.description, with: .notFound("injected"))
            set.storages[source].failNext(.attributes, about: id.description, with: .inputOutput("injected"))
            try await healAndWait(set, away)
            #expect(set.manager.view.members[away] == .inSync, "member \(away) did not rejoin: \(set.manager.view)")
            #expect(set.contents(ofBrick: away, "made-while-away") == Data("must reach member 2".utf8))
        }
    }

    /// A full resync whose scan cannot list a directory scans again; it never reports the member caught up with
    /// the directory's files left out.
    @Test func aFullResyncDoesNotSkipADirectoryItCannotList() async throws {
        try await ReplicaSetFixture.with { set in
            let directory = FileID.random()
            _ = try await set.client.makeDirectory("d", in: .root, id: directory, permissions: 0o755, context: context)
            let file = try await set.client.create(
                "f", in: directory, id: .random(), permissions: 0o644, flags: [.readWrite, .create], context: context
            ).file
            _ = try await set.client.write(ByteBuffer(string: "the right bytes"), to: file, at: 0, context: context)
            try await set.client.release(file, context: context)
            let away = 2
            await set.stopMember(away)
            _ = try set.manager.apply(.replaced(member: away))
            // Its copy is no longer to be trusted (a full resync compares everything): make it wrong, in place.
            let handle = try #require(FileHandle(forWritingAtPath: set.bricks[away].root + "/d/f"))
            try handle.write(contentsOf: Data("THE WRONG BYTES".utf8))
            try handle.close()
            try await set.restartMember(away)
            set.storages[0].failNext(.readDirectory, about: directory.description, with: .inputOutput("injected"))
            try await healAndWait(set, away)
            #expect(set.manager.view.members[away] == .inSync, "member \(away) did not rejoin: \(set.manager.view)")
            #expect(set.contents(ofBrick: away, "d/f") == Data("the right bytes".utf8))
        }
    }

    /// A file the heal made anew on the member is copied whole: a timeout while asking whether it was made by the
    /// heal fails that copy (retried), instead of turning it into a copy of the recorded ranges only.
    @Test func aTimeoutDoesNotTurnAWholeFileHealIntoARangeCopy() async throws {
        try await ReplicaSetFixture.with { set in
            let away = 2
            await set.stopMember(away)
            _ = try set.manager.apply(.unreachable(member: away))
            let id = FileID.random()
            let file = try await Self.createFile("renamed-here", id: id, on: set.client)
            _ = try await set.client.write(ByteBuffer(string: "whole content"), to: file, at: 0, context: context)
            try await set.client.release(file, context: context)
            // Its record says "metadata only", as a rename's does when the heal of the old directory removed the file
            // from the member before the new directory's heal made it anew: only the heal-made mark says "whole".
            let journal = set.layers[0].journal
            let pending = try #require(journal.pendingFiles(of: away).first { $0.id == id })
            await journal.completeFile(id, of: away, version: pending.record.version)
            try await journal.record([.metadata(id)], for: [away], epoch: 1)
            try await set.restartMember(away)
            set.storages[away].failNext(
                .extendedAttribute, about: "trusted.mortar.heal-incomplete", with: FileSystemError(.timedOut, "injected"))
            try await healAndWait(set, away)
            #expect(set.manager.view.members[away] == .inSync, "member \(away) did not rejoin: \(set.manager.view)")
            #expect(set.contents(ofBrick: away, "renamed-here") == Data("whole content".utf8))
        }
    }

    /// The heal marker is written before the change: a change whose marker cannot be written (the member's heal
    /// log is a directory here, which stops root too) fails and is applied nowhere.
    @Test func aChangeWhoseHealMarkerCannotBeWrittenIsNotApplied() async throws {
        try await ReplicaSetFixture.with { set in
            let existing = try await Self.createFile("existing", id: .random(), on: set.client)
            _ = try await set.client.write(ByteBuffer(string: "before"), to: existing, at: 0, context: context)
            let away = 2
            await set.stopMember(away)
            _ = try set.manager.apply(.unreachable(member: away))
            for member in 0..<2 {
                try FileManager.default.createDirectory(
                    atPath: set.bricks[member].root + "/.mortar/heal/\(away).log", withIntermediateDirectories: true)
            }
            await #expect(throws: FileSystemError.self) {
                _ = try await Self.createFile("blocked", id: .random(), on: set.client)
            }
            await #expect(throws: FileSystemError.self) {
                _ = try await set.client.write(ByteBuffer(string: "AFTER!"), to: existing, at: 0, context: context)
            }
            for member in 0..<2 {
                #expect(set.contents(ofBrick: member, "blocked") == nil, "member \(member) applied the create")
                #expect(set.contents(ofBrick: member, "existing") == Data("before".utf8), "member \(member) applied the write")
            }
        }
    }

    /// Marker directories that cannot be read are an error at load, never "nothing pending".
    @Test func unreadableHealMarkersFailTheLoad() async throws {
        let root = try LoopbackBrick.makeTemporaryDirectory("mortar-heal-journal")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let directory = root + "/heal"
        let id = FileID.random()
        try FileManager.default.createDirectory(atPath: directory + "/1", withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: directory + "/1/f-\(id)", contents: nil))
        let readable = try HealJournal(directory: directory, logger: OperationContext.silentLogger)
        try readable.load()
        #expect(readable.pendingFiles(of: 1).map(\.id) == [id])
        // The per-file marker of earlier versions moved into member 1's log, and is read from there next time.
        #expect(!FileManager.default.fileExists(atPath: directory + "/1"))
        let reloaded = try HealJournal(directory: directory, logger: OperationContext.silentLogger)
        try reloaded.load()
        #expect(reloaded.pendingFiles(of: 1).map(\.id) == [id])
        // A member's directory that is not one (it cannot be listed, whoever we are).
        #expect(FileManager.default.createFile(atPath: directory + "/2", contents: nil))
        #expect(throws: FileSystemError.self) {
            try HealJournal(directory: directory, logger: OperationContext.silentLogger).load()
        }
        try FileManager.default.removeItem(atPath: directory + "/2")
        // A member's log that cannot be read.
        try FileManager.default.createDirectory(atPath: directory + "/5.log", withIntermediateDirectories: true)
        #expect(throws: FileSystemError.self) {
            try HealJournal(directory: directory, logger: OperationContext.silentLogger).load()
        }
        try FileManager.default.removeItem(atPath: directory)
        #expect(FileManager.default.createFile(atPath: directory, contents: nil))
        #expect(throws: FileSystemError.self) {
            try HealJournal(directory: directory, logger: OperationContext.silentLogger).load()
        }
    }

    /// Markers are reached through the open marker directory, never through a symbolic link planted in place of it
    /// or of a member's directory: such a link fails the load or the marker, and nothing is written where it points.
    @Test func healMarkersNeverFollowSymbolicLinks() async throws {
        let root = try LoopbackBrick.makeTemporaryDirectory("mortar-heal-journal")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let elsewhere = root + "/elsewhere"
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: root + "/linked", withDestinationPath: elsewhere)
        #expect(throws: FileSystemError.self) {
            _ = try HealJournal(directory: root + "/linked", logger: OperationContext.silentLogger)
        }
        let journal = try HealJournal(directory: root + "/heal", logger: OperationContext.silentLogger)
        try FileManager.default.createSymbolicLink(atPath: root + "/heal/3.log", withDestinationPath: elsewhere + "/log")
        let id = FileID.random()
        await #expect(throws: FileSystemError.self) { try await journal.record([.wholeFile(id)], for: [3], epoch: 1) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: elsewhere).isEmpty)
        try await journal.record([.wholeFile(id)], for: [4], epoch: 1)
        let log = try String(contentsOfFile: root + "/heal/4.log", encoding: .utf8)
        #expect(HealMarkerDirectory.liveNames(inLog: log) == ["f-\(id)"])
    }

    /// A member's marker log is rewritten with only its live markers once it grows past the bound, and what is
    /// live survives the rewrite.
    @Test func markerLogsAreCompacted() throws {
        let root = try LoopbackBrick.makeTemporaryDirectory("mortar-heal-journal")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let markers = try HealMarkerDirectory(path: root + "/heal")
        defer { markers.close() }
        let kept = (0..<3).map { _ in "f-\(FileID.random())" }
        for name in kept { #expect(markers.createMarker("7/\(name)") == nil) }
        var lineBytes = 0
        while lineBytes <= 2 * Limits.healMarkerLogCompactBytes {
            let name = "f-\(FileID.random())"
            #expect(markers.createMarker("7/\(name)") == nil)
            markers.removeMarker("7/\(name)")
            lineBytes += 2 * (name.utf8.count + 2)
        }
        let size = try FileManager.default.attributesOfItem(atPath: root + "/heal/7.log")[.size] as? Int ?? 0
        #expect(size <= Limits.healMarkerLogCompactBytes, "the log grew to \(size) bytes")
        #expect(try markers.markers()[7]?.sorted() == kept.sorted())
    }
}

/// A view source that never learns anything newer than the view it was made with.
struct FrozenMembership: MembershipSource {
    let view: ReplicaSetView

    func view(ofSet setIndex: Int) -> ReplicaSetView { view }

    func refresh(set setIndex: Int, newerThan epoch: UInt64, waitingAtMost milliseconds: Int64) async
        -> ReplicaSetView
    {
        try? await Task.sleep(for: .milliseconds(milliseconds))  // Cancelled: the caller's loop decides.
        return view
    }
}
