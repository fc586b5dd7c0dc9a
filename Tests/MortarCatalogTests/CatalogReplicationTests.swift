import Foundation
import MortarCatalog
import MortarCore
import MortarDaemon
import MortarMembership
import MortarVolumeSpec
import Testing

/// Replicated volumes in the catalog: the create rules, membership events, replace-brick and the spec.
@Suite struct CatalogReplicationTests {
    let rules = CatalogTests()

    func catalog() throws -> Catalog {
        try rules.catalog(peers: ["node2", "node3", "node4"])
    }

    func create(
        _ name: String, _ bricks: [String], replica: Int, minInSync: Int? = nil, force: Bool = false
    ) throws -> CatalogCommand {
        .createVolume(name: name, id: "id-\(name)", bricks: try bricks.map { try BrickLocation(parsing: $0) },
                      replicaCount: replica, minInSync: minInSync, force: force)
    }

    func replace(_ volume: String, _ old: String, _ new: String, force: Bool = false) throws -> CatalogCommand {
        .replaceBrick(volume: volume, old: try BrickLocation(parsing: old), new: try BrickLocation(parsing: new),
                      force: force)
    }

    /// `replica 3` over node1…node3, bricks at `/a` (set 0) and, with `sets: 2`, at `/b` (set 1).
    func replicated(_ catalog: inout Catalog, name: String = "rep", sets: Int = 1) throws -> Volume {
        let bricks = ["/a", "/b"].prefix(sets).flatMap { path in ["node1", "node2", "node3"].map { "\($0):\(path)" } }
        _ = try catalog.apply(try create(name, bricks, replica: 3))
        return try #require(catalog.volume(named: name))
    }

    // MARK: Create

    @Test func consecutiveBricksFormSetsThatStartInSync() throws {
        var catalog = try catalog()
        let version = catalog.version
        let volume = try replicated(&catalog, sets: 2)
        #expect(catalog.version == version + 1)
        #expect(volume.replicaCount == 3)
        #expect(volume.isReplicated)
        #expect(volume.replicaSets.map(\.view) == [
            ReplicaSetView(setIndex: 0, epoch: 1, members: [.inSync, .inSync, .inSync], minInSync: 2),
            ReplicaSetView(setIndex: 1, epoch: 1, members: [.inSync, .inSync, .inSync], minInSync: 2),
        ])
        #expect(volume.bricks(ofSet: 1).map(\.path) == ["/b", "/b", "/b"])
        #expect(volume.bricks(ofSet: 1).map(\.index) == [3, 4, 5])
        #expect(volume.replicaPosition(ofBrick: 4) == (setIndex: 1, member: 1))
    }

    @Test func minInSyncDefaultsToAMajorityAndCanBeChosen() throws {
        var catalog = try catalog()
        _ = try catalog.apply(try create("two", ["node1:/a", "node2:/a"], replica: 2))
        _ = try catalog.apply(try create("five", ["node1:/b", "node2:/b", "node3:/b", "node4:/b", "node1:/c"],
                                         replica: 5, force: true))
        _ = try catalog.apply(try create("one", ["node1:/d", "node2:/d", "node3:/d"], replica: 3, minInSync: 1))
        #expect(catalog.volume(named: "two")?.replicaSets.map(\.view.minInSync) == [2])
        #expect(catalog.volume(named: "five")?.replicaSets.map(\.view.minInSync) == [3])
        #expect(catalog.volume(named: "one")?.replicaSets.map(\.view.minInSync) == [1])
    }

    @Test func plainVolumesHaveNoReplicaSets() throws {
        var catalog = try catalog()
        _ = try catalog.apply(try rules.create("plain", ["node1:/a", "node1:/b"]))
        let volume = try #require(catalog.volume(named: "plain"))
        #expect(volume.replicaCount == 1)
        #expect(volume.replicaSets.isEmpty)
        #expect(!volume.isReplicated)
    }

    @Test(arguments: [0, -1, 6, 1024])
    func replicaCountOutsideOneAndTwoToFiveIsRefused(replica: Int) throws {
        var catalog = try catalog()
        let bricks = (1...6).map { "node1:/b\($0)" }
        rules.expectFailure(&catalog, try create("bad", bricks, replica: replica, force: true),
                            code: .invalidArgument, mentioning: "replica \(replica) is not possible")
    }

    @Test func brickCountMustDivideIntoSets() throws {
        var catalog = try catalog()
        let six = (1...6).map { "node1:/b\($0)" }
        rules.expectFailure(&catalog, try create("bad", six, replica: 4, force: true),
                            code: .invalidArgument, mentioning: "6 bricks do not divide into sets of 4")
        rules.expectFailure(&catalog, try create("bad", Array(six.prefix(2)), replica: 3, force: true),
                            code: .invalidArgument, mentioning: "2 bricks do not divide into sets of 3")
    }

    @Test(arguments: [0, 4, -2])
    func minInSyncMustBeBetweenOneAndTheReplicaCount(minInSync: Int) throws {
        var catalog = try catalog()
        rules.expectFailure(
            &catalog, try create("bad", ["node1:/a", "node2:/a", "node3:/a"], replica: 3, minInSync: minInSync),
            code: .invalidArgument, mentioning: "min-in-sync \(minInSync) is not possible with replica 3: use 1 to 3")
    }

    @Test func minInSyncNeedsAReplicatedVolume() throws {
        var catalog = try catalog()
        rules.expectFailure(&catalog, try create("bad", ["node1:/a"], replica: 1, minInSync: 1),
                            code: .invalidArgument, mentioning: "min-in-sync 1 needs a replicated volume")
    }

    @Test func twoMembersOfOneSetOnOneHostNeedForce() throws {
        var catalog = try catalog()
        rules.expectFailure(
            &catalog, try create("same", ["node2:/a", "node2:/b", "node3:/a"], replica: 3),
            code: .invalidArgument,
            mentioning: "bricks 0 and 1 of replica set 0 are both on host node2: losing that host loses the set; "
                + "add --force to accept that")
        // Every spelling of the manager's host is one host.
        rules.expectFailure(
            &catalog, try create("same", ["node2:/a", "node3:/a", "localhost:/x", "node1:/y", "node3:/b", "127.0.0.1:/z"],
                                 replica: 3),
            code: .invalidArgument, mentioning: "bricks 3 and 5 of replica set 1 are both on host node1")
        _ = try catalog.apply(try create("same", ["node2:/a", "node2:/b", "node3:/a"], replica: 3, force: true))
        // Members of different sets may share a host.
        _ = try catalog.apply(try create("spread", ["node1:/c", "node2:/c", "node1:/d", "node2:/d"], replica: 2))
        #expect(catalog.volume(named: "spread")?.replicaSets.count == 2)
    }

    @Test func oldCatalogFilesWithoutReplicationDecodeAsPlainVolumes() throws {
        let directory = try makeTemporaryDirectory("old-catalog")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/catalog.json"
        // A catalog.json as builds before replication wrote it.
        let old = """
            {
              "content" : {
                "brickPortMin" : 49152,
                "managerHost" : "node1",
                "peers" : [ { "host" : "node2", "id" : "peer-0", "port" : 24007, "state" : "connected" } ],
                "version" : 4,
                "volumes" : [ {
                  "bricks" : [
                    { "host" : "node1", "index" : 0, "path" : "/a", "port" : 49152 },
                    { "host" : "node2", "index" : 1, "path" : "/a", "port" : 49152 }
                  ],
                  "id" : "id-old", "name" : "old", "state" : "started"
                } ]
              },
              "formatVersion" : 1
            }
            """
        try Data(old.utf8).write(to: URL(fileURLWithPath: path))
        var catalog = try #require(try StateFile<Catalog>(path: path).load())
        let volume = try #require(catalog.volume(named: "old"))
        #expect(volume.replicaCount == 1)
        #expect(volume.replicaSets.isEmpty)
        #expect(volume.bricks.map(\.path) == ["/a", "/a"])
        #expect(catalog.version == 4)
        guard case .distribute = catalog.spec(for: volume).graph else {
            Issue.record("an old volume should still be plain distribute")
            return
        }
        // It carries on as a catalog of this build, and round-trips with the new fields.
        _ = try catalog.apply(try create("rep", ["node1:/b", "node2:/b"], replica: 2))
        try StateFile<Catalog>(path: path).save(catalog)
        #expect(try StateFile<Catalog>(path: path).load() == catalog)
    }

    // MARK: Spec

    @Test func oneSetIsTheRootReplicateLayer() throws {
        var catalog = try catalog()
        let volume = try replicated(&catalog)
        let spec = catalog.spec(for: volume)
        guard case .replicate(let options, let children) = spec.graph else {
            Issue.record("expected a replicate layer at the root, got \(spec.graph)")
            return
        }
        #expect(options == ReplicateOptions(setIndex: 0, minInSync: 2))
        #expect(children.map(\.bricks).map { $0.map(\.host) } == [["node1"], ["node2"], ["node3"]])
        #expect(spec.graph.bricks.map(\.brickIndex) == [0, 1, 2])
    }

    @Test func severalSetsAreDistributedOverReplicateLayers() throws {
        var catalog = try catalog()
        let volume = try replicated(&catalog, sets: 2)
        let spec = catalog.spec(for: volume)
        guard case .distribute(_, let sets) = spec.graph else {
            Issue.record("expected distribute over the sets, got \(spec.graph)")
            return
        }
        #expect(sets.count == 2)
        for (setIndex, set) in sets.enumerated() {
            guard case .replicate(let options, let members) = set else {
                Issue.record("set \(setIndex) is not a replicate layer: \(set)")
                continue
            }
            #expect(options.setIndex == setIndex)
            #expect(members.flatMap(\.bricks).map(\.brickIndex) == Array(setIndex * 3..<setIndex * 3 + 3))
        }
        #expect(spec.graph.bricks.map(\.brickPath) == ["/a", "/a", "/a", "/b", "/b", "/b"])
    }

    // MARK: Membership

    @Test func membershipEventsChangeTheViewAndBumpTheVersion() throws {
        var catalog = try catalog()
        _ = try replicated(&catalog, sets: 2)
        let version = catalog.version
        #expect(try catalog.apply(.membership(volume: "rep", setIndex: 1, event: .unreachable(member: 2))) == [.persist])
        #expect(catalog.version == version + 1)
        let view = try #require(catalog.volume(named: "rep")?.replicaSets[1].view)
        #expect(view.epoch == 2)
        #expect(view.members == [.inSync, .inSync, .outOfSync])
        #expect(catalog.volume(named: "rep")?.replicaSets[0].view.epoch == 1)

        let outcome = try catalog.applyMembership(volume: "rep", setIndex: 1, event: .reachable(member: 2))
        #expect(outcome == .changed("member 2 is back; healing starts"))
        #expect(catalog.version == version + 2)
        #expect(catalog.volume(named: "rep")?.replicaSets[1].view.members[2] == .healing)
    }

    @Test func anUnchangedOutcomeLeavesTheCatalogAlone() throws {
        var catalog = try catalog()
        _ = try replicated(&catalog)
        _ = try catalog.apply(.membership(volume: "rep", setIndex: 0, event: .unreachable(member: 0)))
        let before = catalog
        #expect(try catalog.apply(.membership(volume: "rep", setIndex: 0, event: .unreachable(member: 0))) == [])
        #expect(catalog == before)
        let outcome = try catalog.applyMembership(
            volume: "rep", setIndex: 0, event: .caughtUp(member: 0, source: 1, epoch: 1))
        #expect(!outcome.changed)
        #expect(catalog == before)
    }

    @Test func membershipOfAMissingOrPlainVolumeOrSetIsRefused() throws {
        var catalog = try catalog()
        _ = try replicated(&catalog, sets: 2)
        _ = try catalog.apply(try rules.create("plain", ["node1:/p"]))
        rules.expectFailure(&catalog, .membership(volume: "ghost", setIndex: 0, event: .unreachable(member: 0)),
                            code: .notFound, mentioning: "volume ghost does not exist")
        rules.expectFailure(&catalog, .membership(volume: "plain", setIndex: 0, event: .unreachable(member: 0)),
                            code: .invalidArgument, mentioning: "volume plain is not replicated")
        for setIndex in [2, -1] {
            rules.expectFailure(&catalog, .membership(volume: "rep", setIndex: setIndex, event: .unreachable(member: 0)),
                                code: .invalidArgument,
                                mentioning: "volume rep has 2 replica sets (0 to 1); set \(setIndex) does not exist")
        }
        // The membership's own refusal reaches the caller, and changes nothing.
        _ = try catalog.apply(.membership(volume: "rep", setIndex: 0, event: .unreachable(member: 0)))
        _ = try catalog.apply(.membership(volume: "rep", setIndex: 0, event: .unreachable(member: 1)))
        rules.expectFailure(&catalog, .membership(volume: "rep", setIndex: 0, event: .replaced(member: 2)),
                            code: .busy, mentioning: "only in-sync member")
    }

    // MARK: Replace-brick

    @Test func replaceBrickTakesTheOldPlaceAndIsOutOfSync() throws {
        var catalog = try catalog()
        let before = try replicated(&catalog)
        let version = catalog.version
        #expect(try catalog.apply(try replace("rep", "node2:/a", "node4:/new/")) == [.persist])
        #expect(catalog.version == version + 1)
        let volume = try #require(catalog.volume(named: "rep"))
        #expect(volume.bricks[0] == before.bricks[0])
        #expect(volume.bricks[2] == before.bricks[2])
        #expect(volume.bricks[1] == Brick(host: "node4", path: "/new", port: 49152, index: 1))
        let membership = volume.replicaSets[0]
        #expect(membership.view.epoch == 2)
        #expect(membership.view.members == [.inSync, .outOfSync, .inSync])
        #expect(membership.needsFullResync[1])
    }

    @Test func replaceBrickOnTheSameHostGetsAPortOfItsOwn() throws {
        var catalog = try catalog()
        _ = try replicated(&catalog)
        _ = try catalog.apply(try replace("rep", "node2:/a", "node2:/fresh"))
        // The old brick's process may still hold 49152 until it is stopped.
        #expect(catalog.volume(named: "rep")?.bricks[1] == Brick(host: "node2", path: "/fresh", port: 49153, index: 1))
    }

    @Test func replaceBrickOfAStartedVolumeStopsTheOldAndStartsTheNew() throws {
        var catalog = try catalog()
        let before = try replicated(&catalog, sets: 2)
        _ = try catalog.apply(.startVolume(name: "rep"))
        let directives = try catalog.apply(try replace("rep", "node3:/b", "node4:/b"))
        let old = before.assignment(of: before.bricks[5])
        #expect(directives == [
            .persist,
            .stopBricks(host: "node3", [old]),
            .startBricks(host: "node4", [BrickAssignment(volume: "rep", path: "/b", port: 49152, index: 5)]),
        ])
        #expect(catalog.volume(named: "rep")?.replicaSets.map(\.view.epoch) == [1, 2])
    }

    @Test func replaceBrickRules() throws {
        var catalog = try catalog()
        _ = try replicated(&catalog)
        _ = try catalog.apply(try rules.create("plain", ["node1:/p"]))
        rules.expectFailure(
            &catalog, try replace("plain", "node1:/p", "node2:/p"), code: .invalidArgument,
            mentioning: "replace-brick needs a replicated volume: a distribute brick holds the only copy of its files")
        rules.expectFailure(&catalog, try replace("ghost", "node1:/a", "node4:/a"),
                            code: .notFound, mentioning: "volume ghost does not exist")
        rules.expectFailure(&catalog, try replace("rep", "node4:/a", "node4:/b"),
                            code: .notFound, mentioning: "brick node4:/a is not part of volume rep")
        rules.expectFailure(&catalog, try replace("rep", "node1:/a", "node2:/a"),
                            code: .exists, mentioning: "already part of volume rep")
        rules.expectFailure(&catalog, try replace("rep", "node1:/a", "localhost:/p/q"),
                            code: .exists, mentioning: "nested")
        rules.expectFailure(&catalog, try replace("rep", "node1:/a", "node9:/a"),
                            code: .notFound, mentioning: "node9 is not a peer")
        rules.expectFailure(&catalog, try replace("rep", "node1:/a", "node4:relative"),
                            code: .invalidArgument, mentioning: "relative")
        rules.expectFailure(
            &catalog, try replace("rep", "node1:/a", "node2:/other"), code: .invalidArgument,
            mentioning: "bricks 0 and 1 of replica set 0 are both on host node2: losing that host loses the set")
        _ = try catalog.apply(try replace("rep", "node1:/a", "node2:/other", force: true))
        // The old brick may be named by another spelling of its host.
        _ = try catalog.apply(try replace("rep", "node2:/other", "localhost:/back"))
        _ = try catalog.apply(try replace("rep", "127.0.0.1:/back", "node4:/c"))
        #expect(catalog.volume(named: "rep")?.bricks[0] == Brick(host: "node4", path: "/c", port: 49152, index: 0))
        #expect(catalog.volume(named: "rep")?.replicaSets[0].view.epoch == 4)
    }

    @Test func replacingTheOnlyInSyncMemberIsRefused() throws {
        var catalog = try catalog()
        _ = try replicated(&catalog)
        _ = try catalog.apply(.membership(volume: "rep", setIndex: 0, event: .unreachable(member: 0)))
        _ = try catalog.apply(.membership(volume: "rep", setIndex: 0, event: .unreachable(member: 2)))
        rules.expectFailure(&catalog, try replace("rep", "node2:/a", "node4:/a"),
                            code: .busy, mentioning: "member 1 is the only in-sync member of set 0")
        // An out-of-sync member may be replaced: it holds nothing the others lack.
        _ = try catalog.apply(try replace("rep", "node3:/a", "node4:/a"))
        #expect(catalog.volume(named: "rep")?.replicaSets[0].view.members == [.outOfSync, .inSync, .outOfSync])
    }
}
