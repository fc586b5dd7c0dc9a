import Foundation
import MortarCore
import MortarDaemon
import MortarManagementAPI
import Testing

/// Two daemons in this process: the manager on 127.0.0.1 and an agent reachable as 127.0.0.2 (the whole of
/// 127/8 is loopback on Linux), so bricks on the agent's host go through the host-agent HTTP endpoints.
@Suite struct PeerTests {
    @Test func managerRunsBricksOnAPeerThroughItsAgent() async throws {
        var manager = try DaemonHarness("manager")
        manager.configuration.listenHost = "0.0.0.0"
        defer { manager.removeDirectory() }
        let agentHarness = try DaemonHarness("agent")
        defer { agentHarness.removeDirectory() }
        var agentConfiguration = agentHarness.configuration
        agentConfiguration.listenHost = "127.0.0.2"
        agentConfiguration.advertisedHost = "127.0.0.2"
        // Hosts of one cluster hold certificates of one CA.
        agentConfiguration.tlsDirectory = manager.certificates.hostDirectory
        let agent = DaemonHarness(
            directory: manager.directory + "/agent", configuration: agentConfiguration,
            certificates: manager.certificates)
        try await agent.withDaemon { _, agentDaemon in
            try await manager.withDaemon { client, managerDaemon in
                await expectError(.invalidArgument, "is this daemon itself") {
                    _ = try await client.probePeer(host: "127.0.0.3", port: managerDaemon.port)
                }
                let peer = try await client.probePeer(host: "127.0.0.2", port: agentDaemon.port)
                #expect(peer.state == "connected")
                await expectError(.exists, "already a peer") {
                    _ = try await client.probePeer(host: "127.0.0.2", port: agentDaemon.port)
                }
                #expect(try await client.peers().map(\.host) == ["127.0.0.2"])

                let local = try manager.brickDirectory("local")
                let remote = try manager.brickDirectory("remote")
                await expectError(.notFound, "127.0.0.2: brick directory") {
                    _ = try await client.createVolume(name: "spread", bricks: ["127.0.0.2:\(remote)/missing"])
                }
                _ = try await client.createVolume(name: "spread", bricks: ["127.0.0.1:\(local)", "127.0.0.2:\(remote)"])
                _ = try await client.startVolume(name: "spread")
                try await eventually("bricks on both hosts online") {
                    try await client.volumeStatus(name: "spread").bricks.allSatisfy(\.online)
                }
                let status = try await client.volumeStatus(name: "spread")
                #expect(status.bricks.map(\.host) == ["127.0.0.1", "127.0.0.2"])
                await expectError(.busy, "holds bricks of volume spread") { try await client.detachPeer(host: "127.0.0.2") }
                _ = try await client.stopVolume(name: "spread")
                try await client.deleteVolume(name: "spread")
                try await client.detachPeer(host: "127.0.0.2")
                #expect(try await client.peers().isEmpty)
            }
        }
    }
}
