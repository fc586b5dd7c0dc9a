import MortarCatalog
import MortarCore
import MortarManagementAPI
import MortarSecurity
import MortarTransport
import MortarWire
import NIOCore

/// `volume profile`, `volume top` and `volume status VOL clients`: the daemon asks every brick of the volume at
/// once (at most `Limits.brickDiagnosticsConcurrencyMax` at a time), over the brick's TCP port with this host's
/// certificate (control messages are for cluster hosts), each within `Limits.brickDiagnosticsMilliseconds`. A brick
/// that is not running, does not answer in time or refuses is reported with why; the others' answers still come
/// back. Lists are cut so the whole answer fits in a reply (the busiest kept; the client list keeps its total).
extension Manager {
    func volumeProfile(name: String) async throws(FileSystemError) -> VolumeProfile {
        let volume = try existingVolume(name)
        let answers = await ask(volume.bricks, .profile) { reply throws(FileSystemError) -> BrickProfile in
            guard case .profile(let profile) = reply else { throw Self.mismatch("profile", reply) }
            return profile
        }
        return VolumeProfile(volume: name, bricks: answers)
    }

    func volumeTop(name: String, kind: TopKind, count: Int) async throws(FileSystemError) -> VolumeTop {
        let volume = try existingVolume(name)
        guard (1...Limits.profileTopCountMax).contains(count) else {
            throw FileSystemError.invalidArgument("top of \(count) files: the count is 1 to \(Limits.profileTopCountMax)")
        }
        let budget = Self.perBrickBudget(volume.bricks.count)
        let answers = await ask(volume.bricks, .top(kind, count: count)) { reply throws(FileSystemError) -> BrickTop in
            guard case .top(var top) = reply else { throw Self.mismatch("top", reply) }
            top.entries = Self.fitting(top.entries, budget) { 160 + ($0.path?.utf8.count ?? 0) }
            return top
        }
        return VolumeTop(volume: name, kind: kind, bricks: answers)
    }

    func volumeClients(name: String) async throws(FileSystemError) -> VolumeClients {
        let volume = try existingVolume(name)
        let budget = Self.perBrickBudget(volume.bricks.count)
        let answers = await ask(volume.bricks, .clients) { reply throws(FileSystemError) -> BrickClients in
            guard case .clients(var clients) = reply else { throw Self.mismatch("client list", reply) }
            clients.clients = Self.fitting(clients.clients, budget) {
                240 + $0.address.utf8.count + $0.name.utf8.count + ($0.certificate?.utf8.count ?? 0)
            }
            return clients
        }
        return VolumeClients(volume: name, bricks: answers)
    }

    /// What each brick's list may take of a reply (as JSON), so that the whole answer fits in one: half of a
    /// management message, shared among the bricks.
    private static func perBrickBudget(_ bricks: Int) -> Int {
        Limits.managementMessageByteCountMax / 2 / max(1, bricks)
    }

    /// The first of `items` whose estimated sizes fit `budget` (at least one, so every brick shows its busiest);
    /// the busiest come first, so the cut drops the least busy.
    private static func fitting<Item>(_ items: [Item], _ budget: Int, size: (Item) -> Int) -> [Item] {
        var used = 0
        var kept = 0
        for item in items {
            used += size(item)
            guard kept == 0 || used <= budget else { break }
            kept += 1
        }
        return Array(items.prefix(kept))
    }

    private static func mismatch(_ wanted: String, _ reply: ControlReply) -> FileSystemError {
        .protocolError("a \(wanted) request was answered with \(reply)")
    }

    /// `request` put to every brick at once; answers in brick order.
    private func ask<Value: Codable & Sendable>(
        _ bricks: [Brick], _ request: ControlRequest,
        _ value: @escaping @Sendable (ControlReply) throws(FileSystemError) -> Value
    ) async -> [BrickAnswer<Value>] {
        let security = security
        let group = eventLoopGroup
        return await withTaskGroup(of: BrickAnswer<Value>.self) { tasks in
            var answers: [BrickAnswer<Value>] = []
            // At most `brickDiagnosticsConcurrencyMax` bricks asked at once: each is a connection of its own.
            for (position, brick) in bricks.enumerated() {
                if position >= Limits.brickDiagnosticsConcurrencyMax, let answer = await tasks.next() {
                    answers.append(answer)
                }
                tasks.addTask {
                    let name = "\(brick.host):\(brick.path)"
                    do {
                        let reply = try await Self.ask(brick, request, security: security, eventLoopGroup: group)
                        return BrickAnswer(index: brick.index, brick: name, value: try value(reply), error: nil)
                    } catch {
                        return BrickAnswer(index: brick.index, brick: name, value: nil, error: FileSystemError.wrapping(error).message)
                    }
                }
            }
            for await answer in tasks { answers.append(answer) }
            return answers.sorted { $0.index < $1.index }
        }
    }

    private static func ask(
        _ brick: Brick, _ request: ControlRequest, security: TransportSecurity, eventLoopGroup: any EventLoopGroup
    ) async throws -> ControlReply {
        try await BrickConnection.callOnce(
            .control(request), to: .tcp(host: brick.host, port: brick.port), clientName: "mortar-daemon/diagnostics",
            security: security, eventLoopGroup: eventLoopGroup,
            within: .milliseconds(Limits.brickDiagnosticsMilliseconds)
        ).control()
    }
}
