import MortarCatalog
import MortarCore
import MortarTesting
import MortarMembership
import MortarVolumeSpec
import Testing

/// Random sequences of commands, valid and invalid, with the catalog's invariants checked after every step.
@Suite struct CatalogRandomTests {
    static let hosts = ["node1", "localhost", "127.0.0.1", "node2", "node3", "node4"]
    static let names = ["a", "b", "c", "d", "bad name", ""]
    static let paths = ["/srv", "/srv/a", "/srv/a/x", "/srv/b", "/data", "/data/1", "/data/2", "relative", "/x//y/"]

    static func randomBrick(_ generator: inout SplitMix64) -> BrickLocation {
        BrickLocation(host: hosts.randomElement(using: &generator) ?? "node1",
                      path: paths.randomElement(using: &generator) ?? "/srv")
    }

    /// A command, valid or not. Membership events and replace-brick look at `catalog` half of the time, so that
    /// they name epochs, heal sources and bricks that exist often enough to change something.
    static func randomCommand(_ generator: inout SplitMix64, _ catalog: Catalog) -> CatalogCommand {
        let name = names.randomElement(using: &generator) ?? "a"
        let host = hosts.randomElement(using: &generator) ?? "node1"
        switch Int.random(in: 0..<14, using: &generator) {
        case 0...1:
            let count = Int.random(in: 0...4, using: &generator)
            let bricks = (0..<count).map { _ in randomBrick(&generator) }
            return .createVolume(name: name, id: "id-\(name)", bricks: bricks, force: false)
        case 2...3:
            let replica = [1, 2, 2, 3, 3, 0, 6].randomElement(using: &generator) ?? 2
            // Mostly paths of their own, which seldom conflict, so that replicated volumes get created often.
            let count = Int.random(in: 0...6, using: &generator)
            let bricks = (0..<count).map { _ in
                Int.random(in: 0..<4, using: &generator) == 0
                    ? randomBrick(&generator)
                    : BrickLocation(host: hosts.randomElement(using: &generator) ?? "node1",
                                    path: "/r/\(Int.random(in: 0..<24, using: &generator))")
            }
            let minInSync = Bool.random(using: &generator) ? nil : Int.random(in: 0...4, using: &generator)
            return .createVolume(name: name, id: "id-\(name)", bricks: bricks, replicaCount: replica,
                                 minInSync: minInSync, force: Bool.random(using: &generator))
        case 4: return .startVolume(name: name)
        case 5: return .stopVolume(name: name)
        case 6: return .deleteVolume(name: name)
        case 7: return .addPeer(Peer(id: "id-\(host)", host: host, port: 24007, state: .connected))
        case 8: return .removePeer(host: host)
        case 9...11:
            return randomMembership(&generator, catalog, name: name)
        case 12:
            let volume = catalog.volume(named: name)
            let old = Bool.random(using: &generator)
                ? volume?.bricks.randomElement(using: &generator).map { BrickLocation(host: $0.host, path: $0.path) }
                : nil
            return .replaceBrick(volume: name, old: old ?? randomBrick(&generator), new: randomBrick(&generator),
                                 force: Bool.random(using: &generator))
        default:
            return .setPeerState(host: host, state: Bool.random(using: &generator) ? .connected : .disconnected)
        }
    }

    /// A membership event for a set of volume `name`. Half of the time it is informed by the set's view: it
    /// names a member in the state the event is about, the current epoch and the right heal source.
    static func randomMembership(_ generator: inout SplitMix64, _ catalog: Catalog, name: String) -> CatalogCommand {
        let sets = catalog.volume(named: name)?.replicaSets ?? []
        let informed = Bool.random(using: &generator)
        let setIndex = (informed ? sets.indices.randomElement(using: &generator) : nil)
            ?? Int.random(in: -1...2, using: &generator)
        let membership = informed && sets.indices.contains(setIndex) ? sets[setIndex] : nil
        let kind = Int.random(in: 0..<5, using: &generator)
        let candidates: [Int] =
            switch (membership?.view, kind) {
            case (let view?, 0), (let view?, 1): view.inSyncMembers
            case (let view?, 2): view.members.indices.filter { view.members[$0] == .outOfSync }
            case (let view?, 3): view.healingMembers
            default: []
            }
        let member = candidates.randomElement(using: &generator) ?? Int.random(in: 0...3, using: &generator)
        let epoch = membership?.view.epoch ?? UInt64.random(in: 0...6, using: &generator)
        let source = membership?.healSource(for: member) ?? Int.random(in: 0...3, using: &generator)
        let event: MembershipEvent =
            switch kind {
            case 0: .unreachable(member: member)
            case 1: .forwardFailed(member: member, epoch: epoch)
            case 2: .reachable(member: member)
            case 3: .caughtUp(member: member, source: source, epoch: epoch)
            default: .replaced(member: member)
            }
        return .membership(volume: name, setIndex: setIndex, event: event)
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
        for volume in catalog.volumes {
            checkReplication(volume)
            #expect(catalog.spec(for: volume).graph.bricks.map(\.brickIndex) == Array(0..<volume.bricks.count))
        }
    }

    /// Replica sets are consecutive bricks, `replicaCount` at a time, each with a well-formed membership.
    static func checkReplication(_ volume: Volume) {
        #expect((1...Limits.replicaCountMax).contains(volume.replicaCount))
        guard volume.isReplicated else {
            #expect(volume.replicaSets.isEmpty, "plain volume \(volume.name) has replica sets")
            return
        }
        #expect(volume.bricks.count % volume.replicaCount == 0)
        #expect(volume.replicaSets.count == volume.bricks.count / volume.replicaCount)
        for (setIndex, membership) in volume.replicaSets.enumerated() {
            let view = membership.view
            #expect(view.setIndex == setIndex)
            #expect(view.members.count == volume.replicaCount)
            #expect((1...volume.replicaCount).contains(view.minInSync))
            #expect(view.epoch >= 1)
            #expect(!view.inSyncMembers.isEmpty, "\(volume.name): \(view) has no in-sync member")
            #expect(membership.witnesses.count == volume.replicaCount)
            #expect(membership.needsFullResync.count == volume.replicaCount)
        }
    }

    /// Epochs only grow; a command that names another volume leaves a volume's sets as they were.
    static func checkEpochs(before: Catalog, after: Catalog, _ command: CatalogCommand) {
        for volume in after.volumes {
            guard let earlier = before.volume(named: volume.name) else { continue }
            for (old, new) in zip(earlier.replicaSets, volume.replicaSets) {
                #expect(new.view.epoch >= old.view.epoch, "\(command): epoch went back in \(volume.name)")
                if new.view.epoch == old.view.epoch { #expect(new == old, "\(command): same epoch, other view") }
            }
        }
    }

    /// How many commands of each kind succeeded in a run.
    struct Counts {
        var successes = 0
        var replicatedCreates = 0
        var membershipChanges = 0
        var replacements = 0
        /// Healed members that rejoined their set (the hardest event to hit: it names the current epoch and the
        /// right heal source).
        var rejoins = 0
    }

    /// Applies `steps` generated commands, checking after each that a failure changed nothing, a change bumped
    /// the version and asked to persist, and every invariant holds.
    static func run(
        seed: UInt64, catalog start: Catalog, steps: Int,
        _ generate: (inout SplitMix64, Catalog) -> CatalogCommand
    ) -> Counts {
        var generator = SplitMix64(seed: seed)
        var catalog = start
        var counts = Counts()
        for step in 0..<steps {
            let command = generate(&generator, catalog)
            let before = catalog
            do {
                let directives = try catalog.apply(command)
                counts.successes += 1
                switch command {
                case .createVolume(_, _, _, let replicaCount, _, _) where replicaCount > 1: counts.replicatedCreates += 1
                case .membership(_, _, .caughtUp) where !directives.isEmpty:
                    counts.membershipChanges += 1
                    counts.rejoins += 1
                case .membership where !directives.isEmpty: counts.membershipChanges += 1
                case .replaceBrick: counts.replacements += 1
                default: break
                }
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
            checkInvariants(catalog)
            checkEpochs(before: before, after: catalog, command)
        }
        return counts
    }

    @Test(arguments: [1, 2, 3, 42, 1234, 99_999] as [UInt64])
    func invariantsHoldAfterEveryCommand(seed: UInt64) throws {
        let counts = Self.run(seed: seed, catalog: Catalog(managerHost: "node1"), steps: 2000, Self.randomCommand)
        #expect(counts.successes > 100, "seed=\(seed): too few commands succeeded to exercise the catalog")
    }

    /// Mostly replicated creates, membership events and replacements on a cluster whose peers are all there, so
    /// that the replication rules are exercised far past their refusals.
    static func randomReplicationCommand(_ generator: inout SplitMix64, _ catalog: Catalog) -> CatalogCommand {
        let replicated = catalog.volumes.filter(\.isReplicated).map(\.name)
        let name = Bool.random(using: &generator)
            ? replicated.randomElement(using: &generator) ?? "a"
            : names.randomElement(using: &generator) ?? "a"
        switch Int.random(in: 0..<10, using: &generator) {
        case 0...1:
            let command = randomCommand(&generator, catalog)
            if case .createVolume = command { return command }
            return Bool.random(using: &generator) ? .stopVolume(name: name) : .deleteVolume(name: name)
        case 2...3:
            let replica = Int.random(in: 2...3, using: &generator)
            let bricks = (0..<replica * Int.random(in: 1...2, using: &generator)).map { _ in
                BrickLocation(host: ["node1", "node2", "node3", "node4"].randomElement(using: &generator) ?? "node1",
                              path: "/r/\(Int.random(in: 0..<24, using: &generator))")
            }
            return .createVolume(name: name, id: "id-\(name)", bricks: bricks, replicaCount: replica,
                                 force: Int.random(in: 0..<3, using: &generator) > 0)
        case 4: return .startVolume(name: name)
        case 5...7: return randomMembership(&generator, catalog, name: name)
        default:
            let old = catalog.volume(named: name)?.bricks.randomElement(using: &generator)
            let new = BrickLocation(host: ["node1", "node2", "node3", "node4"].randomElement(using: &generator) ?? "node1",
                                    path: "/r/\(Int.random(in: 0..<24, using: &generator))")
            return .replaceBrick(volume: name, old: old.map { BrickLocation(host: $0.host, path: $0.path) } ?? new,
                                 new: new, force: Bool.random(using: &generator))
        }
    }

    @Test(arguments: [5, 6, 7, 8] as [UInt64])
    func replicationInvariantsHoldAfterEveryCommand(seed: UInt64) throws {
        var catalog = Catalog(managerHost: "node1")
        for host in ["node2", "node3", "node4"] {
            _ = try catalog.apply(.addPeer(Peer(id: "id-\(host)", host: host, port: 24007, state: .connected)))
        }
        let counts = Self.run(seed: seed, catalog: catalog, steps: 2000, Self.randomReplicationCommand)
        // Enough of each succeeds to exercise the rules, not only their refusals.
        let summary = "seed=\(seed): \(counts.replicatedCreates) replicated creates, \(counts.membershipChanges) "
            + "membership changes (\(counts.rejoins) rejoins), \(counts.replacements) replacements"
        #expect(counts.replicatedCreates >= 20 && counts.membershipChanges >= 15 && counts.rejoins >= 1
                    && counts.replacements >= 20, "\(summary)")
    }

    @Test func catalogRoundTripsThroughJSON() throws {
        var generator = SplitMix64(seed: 7)
        var catalog = Catalog(managerHost: "node1")
        for _ in 0..<300 { _ = try? catalog.apply(Self.randomCommand(&generator, catalog)) }
        let data = try JSONEncoderForTests.encode(catalog)
        #expect(try JSONEncoderForTests.decode(Catalog.self, from: data) == catalog)
    }
}
