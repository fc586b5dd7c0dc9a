import MortarCatalog
import MortarCore
import MortarManagementAPI
import MortarSecurity
import MortarTransport
import MortarWire
import NIOCore

/// `volume profile`, `volume top` and `volume status VOL clients`: the daemon asks every brick of the volume at
/// once, over the brick's TCP port with this host's certificate (control messages are for cluster hosts), each
/// within `Limits.brickDiagnosticsMilliseconds`. A brick that is not running, does not answer in time or refuses
/// is reported with why; the others' answers still come back.
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
        let answers = await ask(volume.bricks, .top(kind, count: count)) { reply throws(FileSystemError) -> BrickTop in
            guard case .top(let top) = reply else { throw Self.mismatch("top", reply) }
            return top
        }
        return VolumeTop(volume: name, kind: kind, bricks: answers)
    }

    func volumeClients(name: String) async throws(FileSystemError) -> VolumeClients {
        let volume = try existingVolume(name)
        let answers = await ask(volume.bricks, .clients) { reply throws(FileSystemError) -> BrickClients in
            guard case .clients(let clients) = reply else { throw Self.mismatch("client list", reply) }
            return clients
        }
        return VolumeClients(volume: name, bricks: answers)
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
            for brick in bricks {
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
            var answers: [BrickAnswer<Value>] = []
            for await answer in tasks { answers.append(answer) }
            return answers.sorted { $0.index < $1.index }
        }
    }

    private static func ask(
        _ brick: Brick, _ request: ControlRequest, security: TransportSecurity, eventLoopGroup: any EventLoopGroup
    ) async throws -> ControlReply {
        let bound = Limits.brickDiagnosticsMilliseconds
        return try await withDeadline(.milliseconds(bound), "brick \(brick.host):\(brick.path)'s answer") {
            let connection = try await BrickConnection.connect(
                to: .tcp(host: brick.host, port: brick.port), clientName: "mortar-daemon/diagnostics",
                security: security, eventLoopGroup: eventLoopGroup, requestTimeout: .milliseconds(bound))
            defer { connection.close() }
            return try await connection.call(.control(request), credentials: WireCredentials(OperationContext())).control()
        }
    }
}
