import Logging
import MortarCore
import MortarDaemon
import MortarManagementAPI
import MortarSecurity
import MortarVolumeGraph
import MortarVolumeSpec
import NIOCore

/// How `mortar daemon` runs a rebalance: a client stack of the volume, built from the spec its own daemon serves
/// and connected with the host's certificate, crawls the volume (`VolumeGraph.rebalance`). The stack follows a
/// replicated volume's failovers as every client's does, and is closed when the run ends.
struct VolumeRebalancer: VolumeRebalancing {
    let eventLoopGroup: any EventLoopGroup
    let logger: Logger

    func rebalance(
        volume: String, daemon: (host: String, port: Int), security: TransportSecurity, throttle: RebalanceThrottle,
        from progress: RebalanceProgress, report: @escaping @Sendable (RebalanceProgress) async throws -> Void
    ) async throws -> RebalanceProgress {
        let spec = try await ManagementClient.fetchVolumeSpec(
            volume: volume, servers: [daemon], security: security, eventLoopGroup: eventLoopGroup)
        var membership: ManagedMembership?
        if spec.graph.isReplicated {
            let client = ManagementClient(
                servers: [ManagementClient.Address(host: daemon.host, port: daemon.port)], security: security,
                eventLoopGroup: eventLoopGroup)
            membership = try await ManagedMembership.fetch(spec: spec, client: client)
        }
        let graph = try VolumeGraph.build(
            spec, clientName: "mortar-rebalance/\(volume)", security: security, eventLoopGroup: eventLoopGroup,
            logger: logger, membership: membership)
        membership?.watchSpec { newer in _ = graph.follow(newer) }
        defer {
            membership?.watchSpec { _ in }
            graph.shutdown()
        }
        return try await graph.rebalance(from: progress, throttle: throttle, logger: logger, report: report)
    }
}
