import Foundation
import MortarCatalog
import MortarCore
import MortarVolumeSpec
import Testing

/// The catalog's rules, one command at a time.
@Suite struct CatalogTests {
    static let manager = "node1"

    func catalog(peers: [String] = []) throws -> Catalog {
        var catalog = Catalog(managerHost: Self.manager)
        for (number, host) in peers.enumerated() {
            _ = try catalog.apply(.addPeer(Peer(id: "peer-\(number)", host: host, port: 24007, state: .connected)))
        }
        return catalog
    }

    func create(_ name: String, _ bricks: [String]) throws -> CatalogCommand {
        .createVolume(name: name, id: "id-\(name)", bricks: try bricks.map { try BrickLocation(parsing: $0) },
                      force: false)
    }

    /// Applies `command` expecting failure; checks the code, that the message names `mentioning`, and that the
    /// catalog did not change.
    func expectFailure(
        _ catalog: inout Catalog, _ command: CatalogCommand, code: FileSystemError.Code, mentioning: String
    ) {
        let before = catalog
        do {
            _ = try catalog.apply(command)
            Issue.record("\(command) should have failed with \(code)")
        } catch {
            #expect(error.code == code)
            #expect(error.message.contains(mentioning), "message: \(error.message)")
        }
        #expect(catalog == before)
    }

    @Test func createAllocatesPortsPerHostAndBumpsVersion() throws {
        var catalog = try catalog(peers: ["node2"])
        let version = catalog.version
        let directives = try catalog.apply(try create("data", ["node1:/b1", "node2:/b1", "localhost:/b2", "127.0.0.1:/b3"]))
        #expect(directives == [.persist])
        #expect(catalog.version == version + 1)
        let volume = try #require(catalog.volume(named: "data"))
        #expect(volume.state == .created)
        #expect(volume.bricks.map(\.port) == [49152, 49152, 49153, 49154])
        #expect(volume.bricks.map(\.index) == [0, 1, 2, 3])
    }

    /// Client options travel in the spec: `performance.read-ahead off` reaches every client that fetches it, and
    /// a spec from a daemon that sends no client options decodes with the defaults.
    @Test func clientOptionsTravelInTheSpec() throws {
        var catalog = try catalog()
        _ = try catalog.apply(try create("data", ["node1:/a"]))
        let volume = try #require(catalog.volume(named: "data"))
        #expect(catalog.spec(for: volume).client.readAhead)
        _ = try catalog.apply(.setOption(volume: "data", name: "performance.read-ahead", value: "off"))
        let off = catalog.spec(for: try #require(catalog.volume(named: "data")))
        #expect(!off.client.readAhead)
        let decoded = try JSONDecoder().decode(VolumeSpec.self, from: try JSONEncoder().encode(off))
        #expect(decoded == off)
        var object = try #require(try JSONSerialization.jsonObject(with: try JSONEncoder().encode(off)) as? [String: Any])
        object["client"] = nil
        let older = try JSONDecoder().decode(VolumeSpec.self, from: try JSONSerialization.data(withJSONObject: object))
        #expect(older.client.readAhead)
        expectFailure(&catalog, .setOption(volume: "data", name: "performance.read-ahead", value: "sometimes"),
                      code: .invalidArgument, mentioning: "performance.read-ahead")

        // Write-behind the same way; a spec whose client options predate it decodes with it on.
        #expect(off.client.writeBehind)
        _ = try catalog.apply(.setOption(volume: "data", name: "performance.write-behind", value: "off"))
        let noWriteBehind = catalog.spec(for: try #require(catalog.volume(named: "data")))
        #expect(!noWriteBehind.client.writeBehind && !noWriteBehind.client.readAhead)
        object["client"] = ["readAhead": false]
        let beforeWriteBehind = try JSONDecoder().decode(
            VolumeSpec.self, from: try JSONSerialization.data(withJSONObject: object))
        #expect(beforeWriteBehind.client.writeBehind && !beforeWriteBehind.client.readAhead)
        expectFailure(&catalog, .setOption(volume: "data", name: "performance.write-behind", value: "later"),
                      code: .invalidArgument, mentioning: "performance.write-behind")

        // Short-circuit local reads the same way; a spec from before them decodes with them on.
        #expect(noWriteBehind.client.localReads && beforeWriteBehind.client.localReads)
        _ = try catalog.apply(.setOption(volume: "data", name: "performance.local-reads", value: "off"))
        #expect(!catalog.spec(for: try #require(catalog.volume(named: "data"))).client.localReads)
        expectFailure(&catalog, .setOption(volume: "data", name: "performance.local-reads", value: "maybe"),
                      code: .invalidArgument, mentioning: "performance.local-reads")
    }

    /// `volume set` stores a valid value (trimmed) and bumps the version; a bad value, an unknown name or an
    /// unknown volume changes nothing; `volume reset` removes one option or all; options survive JSON.
    @Test func optionsAreValidatedSetAndReset() throws {
        var catalog = try catalog()
        _ = try catalog.apply(try create("data", ["node1:/a"]))
        let version = catalog.version
        #expect(try catalog.apply(.setOption(volume: "data", name: "auth.allow", value: " 10.0.0.* ")) == [.persist])
        _ = try catalog.apply(.setOption(volume: "data", name: "server.root-squash", value: "on"))
        #expect(catalog.version == version + 2)
        #expect(catalog.volume(named: "data")?.options == ["auth.allow": "10.0.0.*", "server.root-squash": "on"])
        expectFailure(&catalog, .setOption(volume: "data", name: "auth.allow", value: "a.b.c"),
                      code: .invalidArgument, mentioning: "auth.allow")
        expectFailure(&catalog, .setOption(volume: "data", name: "no.such", value: "on"),
                      code: .invalidArgument, mentioning: "unknown volume option")
        expectFailure(&catalog, .setOption(volume: "ghost", name: "auth.allow", value: "*"),
                      code: .notFound, mentioning: "ghost")
        expectFailure(&catalog, .resetOption(volume: "data", name: "no.such"),
                      code: .invalidArgument, mentioning: "no.such")
        let decoded = try JSONDecoder().decode(Catalog.self, from: try JSONEncoder().encode(catalog))
        #expect(decoded == catalog)
        _ = try catalog.apply(.resetOption(volume: "data", name: "auth.allow"))
        #expect(catalog.volume(named: "data")?.options == ["server.root-squash": "on"])
        _ = try catalog.apply(.resetOption(volume: "data", name: nil))
        #expect(catalog.volume(named: "data")?.options == [:])
    }

    @Test func portsOfADeletedVolumeAreReused() throws {
        var catalog = try catalog()
        _ = try catalog.apply(try create("first", ["node1:/a", "node1:/b"]))
        _ = try catalog.apply(try create("second", ["node1:/c"]))
        _ = try catalog.apply(.deleteVolume(name: "first"))
        _ = try catalog.apply(try create("third", ["node1:/d", "node1:/e"]))
        #expect(catalog.volume(named: "third")?.bricks.map(\.port) == [49152, 49153])
        #expect(catalog.volume(named: "second")?.bricks.map(\.port) == [49154])
    }

    @Test(arguments: ["", "has space", "dot.name", "slash/name", String(repeating: "x", count: 65), "ünï"])
    func invalidVolumeNamesAreRefused(name: String) throws {
        var catalog = try catalog()
        expectFailure(&catalog, try create(name, ["node1:/b"]), code: .invalidArgument, mentioning: "invalid volume name")
    }

    @Test func validVolumeNamesAreAccepted() throws {
        var catalog = try catalog()
        _ = try catalog.apply(try create(String(repeating: "x", count: 64), ["node1:/a"]))
        _ = try catalog.apply(try create("A-b_9", ["node1:/b"]))
        #expect(catalog.volumes.count == 2)
    }

    @Test func duplicateNameIsRefused() throws {
        var catalog = try catalog()
        _ = try catalog.apply(try create("data", ["node1:/a"]))
        expectFailure(&catalog, try create("data", ["node1:/b"]), code: .exists, mentioning: "volume data already exists")
    }

    @Test func brickRules() throws {
        var catalog = try catalog(peers: ["node2"])
        _ = try catalog.apply(try create("data", ["node1:/srv/a", "node2:/srv/a"]))
        expectFailure(&catalog, .createVolume(name: "none", id: "x", bricks: [], force: true),
                      code: .invalidArgument, mentioning: "at least one brick")
        expectFailure(&catalog, try create("other", ["localhost:/srv/a/"]),
                      code: .exists, mentioning: "brick localhost:/srv/a is already part of volume data")
        expectFailure(&catalog, try create("other", ["node1:/srv/a/inner"]), code: .exists, mentioning: "nested")
        expectFailure(&catalog, try create("other", ["node1:/srv"]), code: .exists, mentioning: "node1:/srv/a")
        expectFailure(&catalog, try create("other", ["node1:/x", "node1://x"]),
                      code: .invalidArgument, mentioning: "given twice")
        expectFailure(&catalog, try create("other", ["node1:/x", "node1:/x/y"]),
                      code: .invalidArgument, mentioning: "node1:/x/y and brick node1:/x")
        expectFailure(&catalog, try create("other", ["node1:relative"]), code: .invalidArgument, mentioning: "relative")
        expectFailure(&catalog, try create("other", ["node1:/a/../b"]), code: .invalidArgument, mentioning: "'..'")
        expectFailure(&catalog, try create("other", ["node3:/x"]),
                      code: .notFound, mentioning: "node3 is not a peer of this cluster; run `mortar peer probe node3`")
        // The same path on another host is another brick; a prefix that is not a parent directory is no nesting.
        _ = try catalog.apply(try create("other", ["node2:/srv/b", "node1:/srv/ab"]))
    }

    @Test func brickTextMustHaveHostAndPath() {
        #expect(throws: FileSystemError.self) { try BrickLocation(parsing: "/just/a/path") }
        #expect(throws: FileSystemError.self) { try BrickLocation(parsing: "host:") }
        #expect((try? BrickLocation(parsing: "host:/p:q")) == BrickLocation(host: "host", path: "/p:q"))
    }

    @Test func lifecycleRules() throws {
        var catalog = try catalog(peers: ["node2"])
        _ = try catalog.apply(try create("data", ["node1:/a", "node2:/a", "node1:/b"]))
        expectFailure(&catalog, .stopVolume(name: "data"), code: .invalidArgument, mentioning: "volume data is not started")
        let start = try catalog.apply(.startVolume(name: "data"))
        #expect(start == [
            .persist,
            .startBricks(host: "node1", [BrickAssignment(volume: "data", path: "/a", port: 49152, index: 0),
                                         BrickAssignment(volume: "data", path: "/b", port: 49153, index: 2)]),
            .startBricks(host: "node2", [BrickAssignment(volume: "data", path: "/a", port: 49152, index: 1)]),
        ])
        expectFailure(&catalog, .startVolume(name: "data"), code: .busy, mentioning: "volume data is already started")
        expectFailure(&catalog, .deleteVolume(name: "data"), code: .busy, mentioning: "stop it first")
        expectFailure(&catalog, .removePeer(host: "node2"), code: .busy, mentioning: "volume data")
        let stop = try catalog.apply(.stopVolume(name: "data"))
        #expect(stop.count == 3)
        #expect(catalog.volume(named: "data")?.state == .stopped)
        _ = try catalog.apply(.deleteVolume(name: "data"))
        #expect(catalog.volumes.isEmpty)
        _ = try catalog.apply(.removePeer(host: "node2"))
        #expect(catalog.peers.isEmpty)
    }

    @Test func unknownVolumeIsNotFound() throws {
        var catalog = try catalog()
        for command in [CatalogCommand.startVolume(name: "ghost"), .stopVolume(name: "ghost"), .deleteVolume(name: "ghost")] {
            expectFailure(&catalog, command, code: .notFound, mentioning: "volume ghost does not exist")
        }
    }

    @Test func peerRules() throws {
        var catalog = try catalog(peers: ["node2"])
        let peer = Peer(id: "new", host: "node2", port: 24007, state: .connected)
        expectFailure(&catalog, .addPeer(peer), code: .exists, mentioning: "node2 is already a peer")
        expectFailure(&catalog, .addPeer(Peer(id: "peer-0", host: "alias", port: 1, state: .connected)),
                      code: .exists, mentioning: "same daemon")
        for local in ["node1", "localhost", "127.0.0.1"] {
            expectFailure(&catalog, .addPeer(Peer(id: "x", host: local, port: 1, state: .connected)),
                          code: .invalidArgument, mentioning: "this host")
        }
        expectFailure(&catalog, .removePeer(host: "node9"), code: .notFound, mentioning: "node9 is not a peer")
        let version = catalog.version
        #expect(try catalog.apply(.setPeerState(host: "node2", state: .connected)) == [])
        #expect(catalog.version == version)
        #expect(try catalog.apply(.setPeerState(host: "node2", state: .disconnected)) == [.persist])
        #expect(catalog.version == version + 1)
    }

    @Test func specOfOneBrickIsItsProtocolClient() throws {
        var catalog = try catalog()
        _ = try catalog.apply(try create("solo", ["node1:/a"]))
        let volume = try #require(catalog.volume(named: "solo"))
        let spec = catalog.spec(for: volume)
        let socket = ProtocolClientOptions.localSocketPath(port: 49152, brickPath: "/a")
        #expect(spec.graph == .protocolClient(ProtocolClientOptions(host: "node1", port: 49152, unixSocketPath: socket,
                                                                     brickPath: "/a", brickIndex: 0)))
        #expect(socket != ProtocolClientOptions.localSocketPath(port: 49152, brickPath: "/b"))
        #expect(socket != ProtocolClientOptions.localSocketPath(port: 49153, brickPath: "/a"))
        #expect(spec.volumeID == "id-solo")
        #expect(spec.catalogVersion == catalog.version)
    }

    @Test func specOfSeveralBricksDistributesInBrickOrder() throws {
        var catalog = try catalog()
        _ = try catalog.apply(try create("wide", ["node1:/a", "node1:/b", "node1:/c"]))
        let spec = catalog.spec(for: try #require(catalog.volume(named: "wide")))
        guard case .distribute(let options, let children) = spec.graph else {
            Issue.record("expected a distribute layer, got \(spec.graph)")
            return
        }
        #expect(options == DistributeOptions())
        #expect(children.count == 3)
        #expect(spec.graph.bricks.map(\.brickPath) == ["/a", "/b", "/c"])
        #expect(spec.graph.bricks.map(\.brickIndex) == [0, 1, 2])
    }
}
