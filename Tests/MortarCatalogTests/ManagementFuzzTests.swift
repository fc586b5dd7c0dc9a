import Foundation
import MortarCore
import MortarMembership
import MortarTesting
import MortarVolumeSpec
import MortarWire
import NIOCore
import NIOHTTP1
import Testing

@testable import MortarManagementAPI

/// What clients and bricks take from the manager, fuzzed: random bytes, truncations, and valid answers with keys
/// dropped, values of the wrong type, huge and negative numbers, arrays grown and shrunk. Each input must either
/// decode into a value that everything downstream can index and count with, or fail with a typed error (the
/// decode paths have typed throws, so "typed" is the compiler's to check); a trap kills the test process, as it
/// would kill the qemu or fio that runs the client library.
@Suite struct ManagementFuzzTests {
    static let rounds = 3_000
    /// The spec the client connected with: two sets of three members.
    static let memberCounts = [3, 3]
    static let client = ManagementClient(host: "127.0.0.1", port: 1, security: .insecure)

    static let validViews: [ReplicaSetView] = [
        ReplicaSetView(
            setIndex: 0, epoch: 7, members: [.inSync, .healing, .outOfSync], minInSync: 1, healSources: [nil, 0, nil],
            fullResync: [false, false, true]),
        ReplicaSetView(setIndex: 1, memberCount: 3, minInSync: 2),
    ]

    // MARK: (a) management answers as the client decodes them

    /// `GET membership` answers through `ManagementClient`'s decode path into a `ManagedMembership`, then
    /// `POST membership` answers (one view) installed into it; every view it then hands out is used the way the
    /// replicate layer and the member layer use it.
    @Test(arguments: [1, 2, 3] as [UInt64])
    func membershipAnswers(seed: UInt64) throws {
        print("ManagementFuzzTests.membershipAnswers seed \(seed)")
        var generator = SplitMix64(seed: seed)
        let valid = Array(try ManagementJSON.encode(Self.validViews).readableBytesView)
        let validOne = Array(try ManagementJSON.encode(Self.validViews[0]).readableBytesView)
        var installed = 0
        var refused = 0
        for _ in 0..<Self.rounds {
            let membership: ManagedMembership
            do {
                let views = try ManagementClient.decodeReply(
                    [ReplicaSetView].self, status: .ok, body: Self.fuzzed(valid, using: &generator), request: "fuzz")
                membership = try ManagedMembership(
                    volume: "fuzz", client: Self.client, memberCounts: Self.memberCounts, views: views)
            } catch {
                #expect(error.code == .protocolError, "\(error)")
                refused += 1
                continue
            }
            installed += 1
            Self.exercise(membership)
            do {
                let view = try ManagementClient.decodeReply(
                    ReplicaSetView.self, status: .ok, body: Self.fuzzed(validOne, using: &generator), request: "fuzz")
                try membership.install(view)
            } catch {
                #expect(error.code == .protocolError, "\(error)")
            }
            Self.exercise(membership)
        }
        // Both outcomes must occur, or the mutations test nothing.
        #expect(installed > Self.rounds / 20 && refused > Self.rounds / 20, "\(installed) installed, \(refused) refused")
    }

    /// The other answers the CLI and the library decode: every value that is used as an index, a count or a port
    /// is in range once decoded; error replies become the daemon's error or EPROTO.
    @Test(arguments: [1, 2, 3] as [UInt64])
    func otherAnswers(seed: UInt64) throws {
        print("ManagementFuzzTests.otherAnswers seed \(seed)")
        var generator = SplitMix64(seed: seed)
        let brick = BrickInfo(host: "h", path: "/b", port: 49152, index: 2)
        let status = BrickStatus(volume: "v", host: "h", path: "/b", port: 49152, index: 2, pid: 7, online: true)
        let samples: [[UInt8]] = try [
            bytes(VolumeInfo(name: "v", id: "i", state: "started", bricks: [brick], replicaCount: 3, minInSync: 2)),
            bytes(VolumeStatus(name: "v", state: "started", bricks: [status], replicaSets: Self.validViews)),
            bytes([BrickHealInfo(
                brick: "h:/b", setIndex: 1, member: 2, reachable: true, state: .healing,
                pending: [MemberStatus.Pending(member: 0, files: 3, directories: 1, bytes: 9)], bytesHealed: 4)]),
            bytes([PeerInfo(id: "p", host: "h", port: 24007, state: "connected")]),
            bytes(Self.spec),
            bytes(ErrorResponse(code: 2, message: "gone")),
        ]
        for round in 0..<Self.rounds {
            let body = Self.fuzzed(samples[round % samples.count], using: &generator)
            do {
                switch round % samples.count {
                case 0:
                    let info = try ManagementClient.decodeReply(VolumeInfo.self, status: .ok, body: body, request: "fuzz")
                    #expect((1...Limits.replicaCountMax).contains(info.replicaCount))
                    #expect(info.minInSync.map { (1...info.replicaCount).contains($0) } ?? true)
                    #expect(info.bricks.allSatisfy(Self.inRange))
                case 1:
                    let volume = try ManagementClient.decodeReply(VolumeStatus.self, status: .ok, body: body, request: "fuzz")
                    #expect(volume.bricks.allSatisfy { Self.inRange(port: $0.port, index: $0.index) })
                    for view in volume.replicaSets { Self.exercise(view, memberCount: view.members.count) }
                case 2:
                    let heal = try ManagementClient.decodeReply([BrickHealInfo].self, status: .ok, body: body, request: "fuzz")
                    #expect(heal.allSatisfy { $0.setIndex >= 0 && (0..<Limits.replicaCountMax).contains($0.member) })
                    #expect(heal.allSatisfy { $0.pending.allSatisfy { $0.files >= 0 && $0.directories >= 0 } })
                case 3:
                    let peers = try ManagementClient.decodeReply([PeerInfo].self, status: .ok, body: body, request: "fuzz")
                    #expect(peers.allSatisfy { (0...Limits.portNumberMax).contains($0.port) })
                case 4:
                    let spec = try ManagementClient.decodeReply(VolumeSpec.self, status: .ok, body: body, request: "fuzz")
                    let counts = try ManagedMembership.memberCounts(of: spec.graph)
                    #expect(counts.allSatisfy { (1...Limits.replicaCountMax).contains($0) })
                default:
                    let status = HTTPResponseStatus(statusCode: Int.random(in: 300...599, using: &generator))
                    _ = try ManagementClient.decodeReply(EmptyResponse.self, status: status, body: body, request: "fuzz")
                    Issue.record("a \(status) reply decoded as a success")
                }
            } catch {
                // Typed by the signatures: a FileSystemError, with whatever errno the fuzzed error body named.
                _ = error.code.description
            }
        }
    }

    // MARK: (b) views as bricks and the manager read them

    /// The view the daemon pushes to members (a control message on the wire), mutated, decoded and installed the
    /// way `ReplicaMemberLayer` does; and the catalog's memberships as the manager reads them from its file, then
    /// driven with events.
    @Test(arguments: [1, 2, 3] as [UInt64])
    func pushedViewsAndCatalogMemberships(seed: UInt64) throws {
        print("ManagementFuzzTests.pushedViewsAndCatalogMemberships seed \(seed)")
        var generator = SplitMix64(seed: seed)
        let membership = try ManagedMembership(
            volume: "fuzz", client: Self.client, memberCounts: Self.memberCounts, views: Self.validViews)
        var valid = ByteBuffer()
        Request.control(.installView(Self.validViews[0])).encode(
            credentials: WireCredentials(OperationContext()), into: &valid)
        let validBytes = Array(valid.readableBytesView)
        // The opcode, the credentials and the kind stay (a barrier is exactly those); the view's fields change.
        var head = ByteBuffer()
        Request.control(.settleBarrier).encode(credentials: WireCredentials(OperationContext()), into: &head)
        let fieldsStart = head.readableBytes
        var decoded = 0
        for _ in 0..<Self.rounds {
            var pushed = validBytes
            for _ in 0..<Int.random(in: 1...3, using: &generator) {
                let position = Int.random(in: fieldsStart..<pushed.count, using: &generator)
                pushed[position] = [0, 1, 2, 3, 5, 6, 255, UInt8.random(in: 0...255, using: &generator)]
                    .randomElement(using: &generator)!
            }
            do {
                guard case (.control(.installView(let view)), _) = try Request.decode(ByteBuffer(bytes: pushed)) else {
                    Issue.record("a mutated view push decoded as another request")
                    continue
                }
                try membership.install(try view.validated(setIndex: 0, memberCount: 3))
                decoded += 1
            } catch let error as FileSystemError {
                #expect(error.code == .protocolError, "\(error)")
            } catch {
                #expect(error is WireError, "\(error)")
            }
            Self.exercise(membership)
        }
        #expect(decoded > 0)

        var catalogEntry = ReplicaSetMembership(setIndex: 1, memberCount: 3, minInSync: 2)
        try catalogEntry.apply(.unreachable(member: 2))
        let stored = Array(try ManagementJSON.encode(catalogEntry).readableBytesView)
        for _ in 0..<Self.rounds {
            guard var read = try? ManagementJSON.decode(
                ReplicaSetMembership.self, from: Self.fuzzed(stored, using: &generator))
            else { continue }
            for _ in 0..<8 {
                let member = Int.random(in: -1...4, using: &generator)
                let epoch = read.view.epoch &+ UInt64.random(in: 0...2, using: &generator) &- 1
                let events: [MembershipEvent] = [
                    .unreachable(member: member), .reachable(member: member), .replaced(member: member),
                    .forwardFailed(member: member, epoch: epoch),
                    .caughtUp(member: member, source: Int.random(in: -1...4, using: &generator), epoch: epoch),
                ]
                // Refusals (replacing the last in-sync member) are typed; only a trap would fail here.
                _ = try? read.apply(events.randomElement(using: &generator)!)
                Self.exercise(read.view, memberCount: read.view.members.count)
            }
        }
    }

    // MARK: Using what was decoded

    /// Reads every set's view the way the layers do (an unknown set must throw, never trap).
    static func exercise(_ membership: ManagedMembership) {
        for setIndex in -1...memberCounts.count {
            do {
                let view = try membership.view(ofSet: setIndex)
                #expect(view.setIndex == setIndex)
                exercise(view, memberCount: memberCounts[setIndex])
            } catch {
                #expect(!memberCounts.indices.contains(setIndex), "\(error)")
            }
        }
    }

    /// What `Replicate`, `ReplicaMemberLayer` and `HealWorker` compute from a view: each of these traps on a view
    /// that was not checked.
    static func exercise(_ view: ReplicaSetView, memberCount: Int) {
        #expect(view.members.count == memberCount)
        _ = view.epoch + 1
        _ = view.epoch - 1
        for member in 0..<memberCount {
            _ = view.members[member]
            _ = view.fullResync[member]
            if let source = view.healSources[member] { _ = view.members[source] }
        }
        for file in [FileID.root, FileID(high: 1, low: 2)] {
            guard let primary = view.primary(for: file) else { continue }
            #expect((0..<memberCount).contains(primary))
            #expect(view.forwardTargets(from: primary).allSatisfy((0..<memberCount).contains))
        }
        _ = view.isWritable
    }

    static func inRange(_ brick: BrickInfo) -> Bool { inRange(port: brick.port, index: brick.index) }

    static func inRange(port: Int, index: Int) -> Bool {
        (0...Limits.portNumberMax).contains(port) && (0..<Limits.bricksPerVolumeMax).contains(index)
    }

    static let spec = VolumeSpec(
        name: "v", volumeID: "i", catalogVersion: 3,
        graph: .distribute(
            DistributeOptions(),
            children: (0..<2).map { set in
                .replicate(
                    ReplicateOptions(setIndex: set, minInSync: 2),
                    children: (0..<3).map { member in
                        .protocolClient(
                            ProtocolClientOptions(
                                host: "h", port: 49152 + set * 3 + member, brickPath: "/b\(member)",
                                brickIndex: set * 3 + member))
                    })
            }))

    // MARK: Inputs

    /// One input from `valid`: random bytes, a truncation, a structural mutation of the parsed JSON (a key
    /// dropped, a value replaced by junk, an array grown or shrunk), a textual one (a number made huge or
    /// negative), or the valid input itself.
    static func fuzzed(_ valid: [UInt8], using generator: inout SplitMix64) -> ByteBuffer {
        switch Int.random(in: 0..<10, using: &generator) {
        case 0:
            let count = Int.random(in: 0..<256, using: &generator)
            return ByteBuffer(bytes: (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) })
        case 1:
            return ByteBuffer(bytes: valid.prefix(Int.random(in: 0..<valid.count, using: &generator)))
        case 2:
            return ByteBuffer(bytes: valid)
        case 3, 4:
            return ByteBuffer(bytes: numberMutated(valid, using: &generator))
        default:
            guard let tree = try? JSONSerialization.jsonObject(with: Data(valid), options: [.fragmentsAllowed]),
                let data = try? JSONSerialization.data(
                    withJSONObject: mutated(tree, depth: 0, using: &generator), options: [.fragmentsAllowed])
            else { return ByteBuffer(bytes: valid) }
            return ByteBuffer(bytes: Array(data))
        }
    }

    /// A value deep inside `value` changed: removed, replaced by junk, or its container resized.
    static func mutated(_ value: Any, depth: Int, using generator: inout SplitMix64) -> Any {
        let descend = depth < 6 && Bool.random(using: &generator)
        switch value {
        case var object as [String: Any]:
            guard let key = object.keys.sorted().randomElement(using: &generator) else { return junk(using: &generator) }
            switch Int.random(in: 0..<4, using: &generator) {
            case 0: object[key] = nil
            case 1: object[key] = junk(using: &generator)
            default: object[key] = descend ? mutated(object[key]!, depth: depth + 1, using: &generator) : junk(using: &generator)
            }
            return object
        case var array as [Any]:
            guard !array.isEmpty else { return [junk(using: &generator)] }
            let index = Int.random(in: 0..<array.count, using: &generator)
            switch Int.random(in: 0..<5, using: &generator) {
            case 0: array.remove(at: index)
            case 1: array.append(array[index])
            case 2: array[index] = junk(using: &generator)
            case 3: array.removeAll()
            default: array[index] = mutated(array[index], depth: depth + 1, using: &generator)
            }
            return array
        default:
            return junk(using: &generator)
        }
    }

    static func junk(using generator: inout SplitMix64) -> Any {
        let choices: [Any] = [
            -1, 0, 1, 2, 3, 4, 5, 6, 1024, 65_535, 65_536, Int.max, Int.min, NSNumber(value: UInt64.max), 1e300, -0.5,
            "in-sync", "healing", "out-of-sync", "x", "", NSNull(), true, false, [Any](), [String: Any](),
            [NSNull()], ["in-sync"], [0, 1, 2],
        ]
        return choices.randomElement(using: &generator)!
    }

    /// A run of digits replaced by a number that does not fit, a negative one, or another small one.
    static func numberMutated(_ valid: [UInt8], using generator: inout SplitMix64) -> [UInt8] {
        let digits = valid.indices.filter { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(valid[$0]) }
        guard let start = digits.randomElement(using: &generator) else { return valid }
        var end = start
        while end < valid.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(valid[end]) { end += 1 }
        let replacement = [
            "99999999999999999999999", "18446744073709551615", "9223372036854775807", "-9223372036854775808", "-1",
            "0", "4611686018427387904", "65536", "1e400", "5", "7",
        ].randomElement(using: &generator)!
        return Array(valid[..<start]) + Array(replacement.utf8) + Array(valid[end...])
    }
}

private func bytes(_ value: some Encodable) throws -> [UInt8] {
    Array(try ManagementJSON.encode(value).readableBytesView)
}
