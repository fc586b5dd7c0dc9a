import MortarCatalog
import MortarCore
import MortarManagementAPI
import MortarMembership
import MortarVolumeSpec

/// How the manager reaches a host's agent: its own in-process agent, or another daemon over HTTP.
protocol AgentEndpoint: Sendable {
    func check(_ request: AgentCheckRequest) async throws
    func start(_ bricks: [AgentBrick]) async throws
    func stop(_ bricks: [AgentBrick]) async throws
    func status(host: String) async throws -> [BrickStatus]
}

extension HostAgent: AgentEndpoint {}

/// Another host's agent, reached through its daemon's management API.
struct RemoteAgent: AgentEndpoint {
    let client: ManagementClient

    func check(_ request: AgentCheckRequest) async throws { try await client.checkBricks(request) }
    func start(_ bricks: [AgentBrick]) async throws { try await client.startBricks(bricks) }
    func stop(_ bricks: [AgentBrick]) async throws { try await client.stopBricks(bricks) }
    func status(host: String) async throws -> [BrickStatus] {
        try await client.brickStatus().map { status in
            var renamed = status
            renamed.host = host
            return renamed
        }
    }
}

extension AgentBrick {
    init(
        _ assignment: BrickAssignment, manager: String? = nil, alternateManagers: [String] = [],
        options: [String: String] = [:]
    ) {
        self.init(
            volume: assignment.volume, path: assignment.path, port: assignment.port, index: assignment.index,
            manager: manager, alternateManagers: alternateManagers, options: options)
    }
}

extension VolumeInfo {
    init(_ volume: Volume) {
        self.init(
            name: volume.name, id: volume.id, state: volume.state.rawValue,
            bricks: volume.bricks.map { BrickInfo(host: $0.host, path: $0.path, port: $0.port, index: $0.index) },
            replicaCount: volume.replicaCount, minInSync: volume.replicaSets.first?.view.minInSync,
            layoutChildCounts: volume.layout?.childCounts)
    }
}

extension PeerInfo {
    init(_ peer: Peer) {
        self.init(id: peer.id, host: peer.host, port: peer.port, state: peer.state.rawValue)
    }
}
