import Foundation
import MortarCore
@testable import MortarDaemon
import MortarManagementAPI
import MortarMembership
import NIOPosix
import Testing

/// Replicated volumes through a daemon's HTTP API (fake bricks): create, membership views, replace-brick, and
/// membership events applied by the manager and kept across a restart.
@Suite(.serialized) struct DaemonReplicationTests {
    @Test func createReplicatedVolumeAndReadItsMembership() async throws {
        let harness = try DaemonHarness("replicated")
        defer { harness.removeDirectory() }
        try await harness.withDaemon { client, _ in
            let bricks = try ["a", "b", "c"].map { "127.0.0.1:\(try harness.brickDirectory($0))" }
            await expectError(.invalidArgument, "bricks 0 and 1 of replica set 0 are both on host 127.0.0.1") {
                _ = try await client.createVolume(name: "rep", bricks: bricks, replicaCount: 3)
            }
            await expectError(.invalidArgument, "3 bricks do not divide into sets of 2") {
                _ = try await client.createVolume(name: "rep", bricks: bricks, replicaCount: 2, force: true)
            }
            await expectError(.invalidArgument, "min-in-sync 4 is not possible with replica 3") {
                _ = try await client.createVolume(name: "rep", bricks: bricks, replicaCount: 3, minInSync: 4, force: true)
            }
            let created = try await client.createVolume(name: "rep", bricks: bricks, replicaCount: 3, force: true)
            #expect(created.replicaCount == 3)
            #expect(created.minInSync == 2)
            let views = try await client.volumeMembership(name: "rep")
            #expect(views == [ReplicaSetView(setIndex: 0, epoch: 1, members: [.inSync, .inSync, .inSync], minInSync: 2)])
            let status = try await client.volumeStatus(name: "rep")
            #expect(status.replicaSets == views)

            let plain = try await client.createVolume(name: "plain", bricks: ["127.0.0.1:\(try harness.brickDirectory("p"))"])
            #expect(plain.replicaCount == 1)
            #expect(plain.minInSync == nil)
            #expect(try await client.volumeMembership(name: "plain").isEmpty)
            await expectError(.notFound, "volume ghost does not exist") {
                _ = try await client.volumeMembership(name: "ghost")
            }
            await expectError(.invalidArgument, "replace-brick needs a replicated volume") {
                _ = try await client.replaceBrick(
                    volume: "plain", oldBrick: plain.bricks[0].host + ":" + plain.bricks[0].path,
                    newBrick: "127.0.0.1:\(harness.directory)/bricks/q", force: true)
            }
        }
    }

    @Test func replaceBrickOfAStartedVolumeMovesTheBrickProcess() async throws {
        let harness = try DaemonHarness("replace")
        defer { harness.removeDirectory() }
        try await harness.withDaemon { client, _ in
            let bricks = try ["a", "b", "c"].map { "127.0.0.1:\(try harness.brickDirectory($0))" }
            let created = try await client.createVolume(name: "rep", bricks: bricks, replicaCount: 3, force: true)
            _ = try await client.startVolume(name: "rep")
            try await eventually("the three bricks online") {
                try await client.volumeStatus(name: "rep").bricks.allSatisfy { $0.online && $0.pid != nil }
            }
            // These bricks are stand-ins that do not answer the manager's heartbeats, so the manager votes them out
            // one after another until one is left in sync (which may not be replaced: that would lose data). The
            // member replaced is one already out of sync, whenever the test gets there on a loaded machine.
            var victim = 0
            try await eventually("a member voted out for missing heartbeats") {
                let members = try await client.volumeMembership(name: "rep").first?.members ?? []
                guard let out = members.firstIndex(of: .outOfSync) else { return false }
                victim = out
                return true
            }
            let replacement = harness.directory + "/bricks/new"
            await expectError(.invalidArgument, "replica set 0 are both on host 127.0.0.1") {
                _ = try await client.replaceBrick(volume: "rep", oldBrick: bricks[victim], newBrick: "127.0.0.1:" + replacement)
            }
            // --force accepts the shared host and creates the missing directory.
            let info = try await client.replaceBrick(
                volume: "rep", oldBrick: bricks[victim], newBrick: "127.0.0.1:" + replacement, force: true)
            var expected = bricks.map { String($0.dropFirst("127.0.0.1:".count)) }
            expected[victim] = replacement
            #expect(info.bricks.map(\.path) == expected)
            try await eventually("the new brick online in place of the old") {
                let status = try await client.volumeStatus(name: "rep")
                return status.bricks[victim].path == replacement && status.bricks[victim].online
                    && status.bricks[victim].pid != nil
            }
            #expect(FileManager.default.fileExists(atPath: replacement + "/.starts"))
            #expect(info.bricks[victim].port != created.bricks[victim].port)
            #expect(!(await HostAgent.accepts(host: "127.0.0.1", port: created.bricks[victim].port, group: MultiThreadedEventLoopGroup.singleton)),
                    "the replaced brick's process still listens")
            // The replaced member is out of sync in a newer epoch (a new brick starts empty).
            let views = try await client.volumeMembership(name: "rep")
            #expect((views.first?.epoch ?? 0) >= 2)
            #expect(views.first?.members[victim] == .outOfSync)
            _ = try await client.stopVolume(name: "rep")
        }
    }

    @Test func membershipEventsAreAppliedPersistedAndServed() async throws {
        let harness = try DaemonHarness("membership")
        defer { harness.removeDirectory() }
        let bricks = try (1...6).map { "127.0.0.1:\(try harness.brickDirectory("b\($0)"))" }
        try await harness.withDaemon { client, daemon in
            _ = try await client.createVolume(name: "rep", bricks: bricks, replicaCount: 3, minInSync: 1, force: true)
            let left = try await daemon.manager.applyMembership(volume: "rep", setIndex: 1, event: .unreachable(member: 0))
            #expect(left.outcome.changed)
            #expect(left.view == ReplicaSetView(setIndex: 1, epoch: 2, members: [.outOfSync, .inSync, .inSync], minInSync: 1))
            let again = try await daemon.manager.applyMembership(volume: "rep", setIndex: 1, event: .unreachable(member: 0))
            #expect(!again.outcome.changed)
            #expect(again.view == left.view)
            await expectError(.invalidArgument, "set 2 does not exist") {
                _ = try await daemon.manager.applyMembership(volume: "rep", setIndex: 2, event: .reachable(member: 0))
            }
            #expect(try await client.volumeMembership(name: "rep").map(\.epoch) == [1, 2])
        }
        // The manager wrote the change before answering: a restarted daemon serves the same views.
        try await harness.withDaemon { client, _ in
            let views = try await client.volumeMembership(name: "rep")
            #expect(views.map(\.epoch) == [1, 2])
            #expect(views[1].members == [.outOfSync, .inSync, .inSync])
        }
    }
}
