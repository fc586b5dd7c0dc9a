import Foundation
import MortarCore
import MortarMembership
import MortarProtocolClient
@testable import MortarReplicaMember
import NIOCore
import Synchronization
import Testing

/// Changes whose outcome a member never learns — the primary died between its forwards, or the member died with
/// the change applied — end as one version on every member, and what members keep about changes they applied is
/// forgotten once the primary has settled them.
@Suite("Unacknowledged changes settle to one version", .serialized)
struct UnacknowledgedChangeTests {
    let context = OperationContext()

    /// A file `file` holding `before` on every member, and the members that are not its primary.
    static func replicatedFile(_ set: ReplicaSetFixture, before: String) async throws -> (FileID, Int, [Int]) {
        let id = FileID.random()
        let file = try await ReplicationTests.createFile("file", id: id, on: set.client)
        _ = try await set.client.write(ByteBuffer(string: before), to: file, at: 0, context: OperationContext())
        try await set.client.release(file, context: OperationContext())
        let primary = try #require(set.manager.view.primary(for: id))
        return (id, primary, (0..<3).filter { $0 != primary })
    }

    /// What a primary sends a backup: the write as a forwarded change of the current epoch.
    static func forward(_ text: String, at offset: UInt64, of id: FileID, to brick: LoopbackBrick, epoch: UInt64)
        async throws
    {
        let peer = ReplicaSetFixture.memberClient(brick)
        defer { peer.shutdown() }
        var forwarded = OperationContext()
        forwarded.replication = ReplicationStamp(epoch: epoch, role: .forwarded)
        let handle = try await peer.open(id, flags: .readWrite, context: forwarded)
        _ = try await peer.write(ByteBuffer(string: text), to: handle, at: offset, context: forwarded)
        try await peer.release(handle, context: forwarded)
    }

    /// Waits until `condition` holds, at most `seconds`; fails naming `what` if it never does, and prints how long
    /// it took.
    static func eventually(
        _ what: String, seconds: Int = 30, _ condition: () async throws -> Bool
    ) async throws {
        let started = ContinuousClock.now
        while try await !condition() {
            guard ContinuousClock.now - started < .seconds(seconds) else {
                Issue.record("not within \(seconds) s: \(what)")
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        print("\(what): after \(ContinuousClock.now - started)")
    }

    /// The names of the markers a member keeps on disk for itself (changes it applied, outcome unknown).
    static func ownMarkers(_ set: ReplicaSetFixture, _ member: Int) throws -> [String] {
        let log = set.bricks[member].root + "/.mortar/heal/\(member).log"
        // No log yet: the member never recorded a change of its own.
        guard FileManager.default.fileExists(atPath: log) else { return [] }
        return HealMarkerDirectory.liveNames(inLog: try String(contentsOfFile: log, encoding: .utf8))
    }

    /// The primary forwards a write to one member and dies before the other gets it. Both survivors are in sync
    /// and disagree; the one that holds the change has it settled, so both end with the new primary's version.
    @Test func aChangeADyingPrimaryForwardedToOneMemberEndsAsOneVersion() async throws {
        try await ReplicaSetFixture.with { set in
            let (id, primary, others) = try await Self.replicatedFile(set, before: "older")
            let (holder, lacker) = (others[0], others[1])
            try await Self.forward("NEWER", at: 0, of: id, to: set.bricks[holder], epoch: set.manager.view.epoch)
            await set.stopMember(primary)
            _ = try set.manager.apply(.unreachable(member: primary))
            #expect(set.contents(ofBrick: holder, "file") == Data("NEWER".utf8))
            #expect(set.contents(ofBrick: lacker, "file") == Data("older".utf8))
            let newPrimary = try #require(set.manager.view.primary(for: id))
            let winner = set.contents(ofBrick: newPrimary, "file")
            set.startHealing()
            try await Self.eventually("both survivors hold the new primary's version") {
                set.contents(ofBrick: holder, "file") == winner && set.contents(ofBrick: lacker, "file") == winner
            }
            #expect(set.manager.view.members[holder] == .inSync && set.manager.view.members[lacker] == .inSync)
            try await Self.eventually("the holder forgot the settled change") {
                try Self.ownMarkers(set, holder).isEmpty && set.layers[holder].intents.isEmpty(for: ReplicaMemberLayer.unsettled)
            }
        }
    }

    /// The primary forwards a write to one member, then the primary and that member die: the member left holds the
    /// set's version alone. The member that applied the change knows it after its restart only from its marker,
    /// hands it over, and is healed back to the survivor's version.
    @Test func aMemberThatDiedWithAnUnacknowledgedChangeIsHealedToTheSetsVersion() async throws {
        try await ReplicaSetFixture.with { set in
            let (id, primary, others) = try await Self.replicatedFile(set, before: "older")
            let (holder, survivor) = (others[0], others[1])
            try await Self.forward("NEWER", at: 0, of: id, to: set.bricks[holder], epoch: set.manager.view.epoch)
            await set.stopMember(primary)
            await set.stopMember(holder)
            _ = try set.manager.apply(.unreachable(member: primary))
            _ = try set.manager.apply(.unreachable(member: holder))
            #expect(set.manager.view.inSyncMembers == [survivor])
            try await set.restartMember(primary)
            try await set.restartMember(holder)
            set.startHealing()
            // The manager lets a member heal once it has handed over what it holds unsettled.
            try await Self.eventually("the holder handed its change over") {
                set.layers[holder].journal.isEmpty(for: holder)
            }
            _ = try set.manager.apply(.reachable(member: holder))
            _ = try set.manager.apply(.reachable(member: primary))
            try await set.waitUntilInSync(holder)
            try await set.waitUntilInSync(primary)
            for member in 0..<3 {
                #expect(set.contents(ofBrick: member, "file") == Data("older".utf8), "member \(member)")
            }
        }
    }

    /// In steady state every member notes each change it applies; once the primary has answered a barrier the
    /// notes and their markers go, so nothing is left to settle and no marker outlives its change.
    @Test func settledChangesAreForgottenEverywhere() async throws {
        try await ReplicaSetFixture.with { set in
            let (id, _, _) = try await Self.replicatedFile(set, before: "first")
            let file = try await set.client.open(id, flags: .readWrite, context: context)
            for index in 0..<32 {
                _ = try await set.client.write(ByteBuffer(string: "block \(index)"), to: file, at: UInt64(index) * 4096, context: context)
            }
            try await set.client.release(file, context: context)
            let kept = try (0..<3).reduce(0) { $0 + (try Self.ownMarkers(set, $1).count) }
            #expect(kept > 0, "no member kept a marker for a change it applied")
            set.startHealing()
            try await Self.eventually("every member forgot the settled changes") {
                try (0..<3).allSatisfy { member in
                    try Self.ownMarkers(set, member).isEmpty
                        && (-1..<3).allSatisfy { set.layers[member].intents.isEmpty(for: $0) }
                }
            }
            let reference = set.contents(ofBrick: 0, "file")
            for member in 1..<3 { #expect(set.contents(ofBrick: member, "file") == reference, "member \(member)") }
        }
    }

    /// A drain waits for the changes begun before it, not for those begun after.
    @Test func aDrainWaitsForEarlierChangesOnly() async throws {
        let sequencer = RangeSequencer()
        let id = FileID.random()
        let earlier = await sequencer.begin([.bytes(id, lower: 0, upper: 10)])
        let drained = ManagedFlag()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                await sequencer.drain()
                drained.set()
            }
            try await Task.sleep(for: .milliseconds(100))
            let later = await sequencer.begin([.bytes(id, lower: 20, upper: 30)])
            try await Task.sleep(for: .milliseconds(100))
            #expect(!drained.isSet, "the drain ended while an earlier change was running")
            sequencer.finish(earlier)
            try await group.waitForAll()
            #expect(drained.isSet)
            sequencer.finish(later)
        }
        await sequencer.drain()
    }
}

/// A flag one task sets and another reads.
final class ManagedFlag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}
