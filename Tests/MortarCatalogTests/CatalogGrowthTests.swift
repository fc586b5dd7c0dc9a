import Foundation
import MortarCatalog
import MortarCore
import MortarVolumeSpec
import Testing

/// `volume add-brick` in the catalog: where new bricks go, what the spec says afterwards, what is refused.
@Suite struct CatalogGrowthTests {
    let rules = CatalogTests()

    func addBricks(_ volume: String, _ bricks: [String]) throws -> CatalogCommand {
        .addBricks(volume: volume, bricks: try bricks.map { try BrickLocation(parsing: $0) }, force: false)
    }

    @Test func addedBricksFollowTheOthersAndTheLayoutGainsAGeneration() throws {
        var catalog = try rules.catalog(peers: ["node2"])
        _ = try catalog.apply(try rules.create("vol", ["node1:/b/0", "node2:/b/1"]))
        let before = catalog.version
        #expect(try catalog.apply(try addBricks("vol", ["node1:/b/2", "node2:/b/3"])) == [.persist])
        #expect(catalog.version == before + 1)
        let volume = try #require(catalog.volume(named: "vol"))
        #expect(volume.bricks.map(\.index) == [0, 1, 2, 3])
        #expect(volume.bricks.map(\.path) == ["/b/0", "/b/1", "/b/2", "/b/3"])
        #expect(volume.bricks[2].port == volume.bricks[0].port + 1, "a host's ports are allocated lowest-free-first")
        #expect(volume.layoutHistory == LayoutHistory(initialChildCount: 2, changes: [.added(2)]))

        guard case .distribute(let options, let children) = catalog.spec(for: volume).graph else {
            Issue.record("a four-brick volume's graph is a distribute layer")
            return
        }
        #expect(children.count == 4)
        #expect(options.layout == volume.layoutHistory)

        // Once more: the history keeps both changes, in order; survives a round trip through JSON.
        _ = try catalog.apply(try addBricks("vol", ["node2:/b/4"]))
        let grown = try #require(catalog.volume(named: "vol"))
        #expect(grown.layoutHistory.changes == [.added(2), .added(1)])
        let decoded = try JSONDecoder().decode(Catalog.self, from: try JSONEncoder().encode(catalog))
        #expect(decoded == catalog)
    }

    @Test func aOneBrickVolumeGrowsIntoADistributedOne() throws {
        var catalog = try rules.catalog()
        _ = try catalog.apply(try rules.create("one", ["node1:/b/0"]))
        if case .distribute = catalog.spec(for: try #require(catalog.volume(named: "one"))).graph {
            Issue.record("a one-brick volume's graph is its brick")
        }
        _ = try catalog.apply(try addBricks("one", ["node1:/b/1"]))
        let volume = try #require(catalog.volume(named: "one"))
        guard case .distribute(let options, let children) = catalog.spec(for: volume).graph else {
            Issue.record("a grown volume's graph is a distribute layer")
            return
        }
        #expect(children.count == 2)
        #expect(options.layout == LayoutHistory(initialChildCount: 1, changes: [.added(1)]))
    }

    @Test func aStartedVolumeStartsOnlyItsNewBricks() throws {
        var catalog = try rules.catalog(peers: ["node2"])
        _ = try catalog.apply(try rules.create("vol", ["node1:/b/0", "node2:/b/1"]))
        _ = try catalog.apply(.startVolume(name: "vol"))
        let directives = try catalog.apply(try addBricks("vol", ["node2:/b/2"]))
        let port = try #require(catalog.volume(named: "vol")?.bricks[2].port)
        #expect(directives == [
            .persist,
            .startBricks(host: "node2", [BrickAssignment(volume: "vol", path: "/b/2", port: port, index: 2)]),
        ])
    }

    @Test func refusals() throws {
        var catalog = try rules.catalog(peers: ["node2"])
        _ = try catalog.apply(try rules.create("vol", ["node1:/b/0", "node2:/b/1"]))
        _ = try catalog.apply(
            .createVolume(
                name: "rep", id: "id-rep",
                bricks: try ["node1:/r/0", "node2:/r/1", "node1:/r/2"].map { try BrickLocation(parsing: $0) },
                replicaCount: 3, force: true))
        rules.expectFailure(&catalog, try addBricks("nothere", ["node1:/b/9"]), code: .notFound, mentioning: "nothere")
        rules.expectFailure(&catalog, try addBricks("vol", []), code: .invalidArgument, mentioning: "names no brick")
        rules.expectFailure(&catalog, try addBricks("vol", ["node1:/b/0"]), code: .exists, mentioning: "/b/0")
        rules.expectFailure(&catalog, try addBricks("vol", ["node1:/b/0/inner"]), code: .exists, mentioning: "nested")
        rules.expectFailure(&catalog, try addBricks("vol", ["node1:/c", "node1:/c"]), code: .invalidArgument,
                            mentioning: "given twice")
        rules.expectFailure(&catalog, try addBricks("vol", ["node3:/b/9"]), code: .notFound, mentioning: "peer probe")
        rules.expectFailure(&catalog, try addBricks("vol", ["node1:relative"]), code: .invalidArgument,
                            mentioning: "relative")
        rules.expectFailure(&catalog, try addBricks("rep", ["node1:/r/3", "node2:/r/4"]), code: .invalidArgument,
                            mentioning: "whole replica sets")
        rules.expectFailure(&catalog, try addBricks("rep", ["node1:/r/3", "node2:/r/4", "node1:/r/5"]),
                            code: .invalidArgument, mentioning: "node1")
    }

    @Test func aReplicatedVolumeGainsWholeSetsInSync() throws {
        var catalog = try rules.catalog(peers: ["node2", "node3"])
        let bricks = ["node1:/r/0", "node2:/r/0", "node3:/r/0"]
        _ = try catalog.apply(
            .createVolume(
                name: "rep", id: "id-rep", bricks: try bricks.map { try BrickLocation(parsing: $0) }, replicaCount: 3,
                minInSync: 2, force: false))
        _ = try catalog.apply(try addBricks("rep", ["node1:/r/1", "node2:/r/1", "node3:/r/1"]))
        let volume = try #require(catalog.volume(named: "rep"))
        #expect(volume.bricks.count == 6)
        #expect(volume.replicaSets.count == 2)
        let added = volume.replicaSets[1].view
        #expect(added.setIndex == 1 && added.minInSync == 2)
        #expect(added.members.allSatisfy { $0 == .inSync }, "\(added)")
        #expect(volume.layoutHistory == LayoutHistory(initialChildCount: 1, changes: [.added(1)]))
        guard case .distribute(let options, let children) = catalog.spec(for: volume).graph,
            case .replicate(let second, let members) = children.last
        else {
            Issue.record("a 2 x 3 volume's graph is a distribute layer over two replicate layers")
            return
        }
        #expect(children.count == 2 && second.setIndex == 1 && members.count == 3)
        #expect(options.layout == volume.layoutHistory)
    }

    @Test func theHistoryIsBounded() throws {
        var catalog = try rules.catalog()
        _ = try catalog.apply(try rules.create("vol", ["node1:/b/0"]))
        for index in 1...Limits.layoutChangesMax { _ = try catalog.apply(try addBricks("vol", ["node1:/b/\(index)"])) }
        rules.expectFailure(&catalog, try addBricks("vol", ["node1:/b/last"]), code: .invalidArgument,
                            mentioning: "grown \(Limits.layoutChangesMax) times")
    }
}
