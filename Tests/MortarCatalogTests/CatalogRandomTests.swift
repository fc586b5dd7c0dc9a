import MortarCatalog
import MortarCore
import Testing

/// A small, seedable generator (SplitMix64), so a failing sequence can be replayed from its seed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}

/// Random sequences of commands, valid and invalid, with the catalog's invariants checked after every step.
@Suite struct CatalogRandomTests {
    static let hosts = ["node1", "localhost", "127.0.0.1", "node2", "node3", "node4"]
    static let names = ["a", "b", "c", "d", "bad name", ""]
    static let paths = ["/srv", "/srv/a", "/srv/a/x", "/srv/b", "/data", "/data/1", "/data/2", "relative", "/x//y/"]

    static func randomCommand(_ generator: inout SeededGenerator) -> CatalogCommand {
        let name = names.randomElement(using: &generator) ?? "a"
        let host = hosts.randomElement(using: &generator) ?? "node1"
        switch Int.random(in: 0..<10, using: &generator) {
        case 0...3:
            let count = Int.random(in: 0...4, using: &generator)
            let bricks = (0..<count).map { _ in
                BrickLocation(host: hosts.randomElement(using: &generator) ?? "node1",
                              path: paths.randomElement(using: &generator) ?? "/srv")
            }
            return .createVolume(name: name, id: "id-\(name)", bricks: bricks, force: false)
        case 4: return .startVolume(name: name)
        case 5: return .stopVolume(name: name)
        case 6: return .deleteVolume(name: name)
        case 7: return .addPeer(Peer(id: "id-\(host)", host: host, port: 24007, state: .connected))
        case 8: return .removePeer(host: host)
        default:
            return .setPeerState(host: host, state: Bool.random(using: &generator) ? .connected : .disconnected)
        }
    }

    static func checkInvariants(_ catalog: Catalog) {
        var ports = Set<String>()
        var paths: [(String, String, String)] = []
        for volume in catalog.volumes {
            #expect(!volume.bricks.isEmpty)
            #expect(volume.bricks.map(\.index) == Array(0..<volume.bricks.count))
            for brick in volume.bricks {
                let host = catalog.isLocal(brick.host) ? "local" : brick.host
                #expect(ports.insert("\(host):\(brick.port)").inserted, "port \(brick.port) twice on \(host)")
                #expect(brick.port >= catalog.brickPortMin)
                #expect(brick.path.hasPrefix("/") && !brick.path.hasSuffix("/") && !brick.path.contains("//"))
                #expect(catalog.isLocal(brick.host) || catalog.peer(host: brick.host) != nil)
                for (otherHost, otherPath, otherVolume) in paths where otherHost == host {
                    #expect(!Catalog.pathsOverlap(otherPath, brick.path),
                            "\(brick.path) of \(volume.name) overlaps \(otherPath) of \(otherVolume)")
                }
                paths.append((host, brick.path, volume.name))
            }
        }
        #expect(Set(catalog.volumes.map(\.name)).count == catalog.volumes.count)
        #expect(Set(catalog.peers.map(\.host)).count == catalog.peers.count)
    }

    @Test(arguments: [1, 2, 3, 42, 1234, 99_999] as [UInt64])
    func invariantsHoldAfterEveryCommand(seed: UInt64) throws {
        var generator = SeededGenerator(state: seed)
        var catalog = Catalog(managerHost: "node1")
        var successes = 0
        for step in 0..<2000 {
            let command = Self.randomCommand(&generator)
            let before = catalog
            do {
                let directives = try catalog.apply(command)
                successes += 1
                if catalog == before {
                    #expect(directives.isEmpty, "seed=\(seed) step=\(step): no change yet \(directives)")
                } else {
                    #expect(catalog.version > before.version, "seed=\(seed) step=\(step) \(command)")
                    #expect(directives.contains(.persist))
                }
            } catch {
                #expect(catalog == before, "seed=\(seed) step=\(step): failed \(command) changed the catalog")
                #expect(!error.message.isEmpty)
            }
            Self.checkInvariants(catalog)
        }
        #expect(successes > 100, "seed=\(seed): too few commands succeeded to exercise the catalog")
    }

    @Test func catalogRoundTripsThroughJSON() throws {
        var generator = SeededGenerator(state: 7)
        var catalog = Catalog(managerHost: "node1")
        for _ in 0..<300 { _ = try? catalog.apply(Self.randomCommand(&generator)) }
        let data = try JSONEncoderForTests.encode(catalog)
        #expect(try JSONEncoderForTests.decode(Catalog.self, from: data) == catalog)
    }
}
