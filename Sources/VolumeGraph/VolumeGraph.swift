import Logging
import MortarCore
import MortarDistribute
import MortarProtocolClient
import MortarTransport
import MortarVolumeSpec
import NIOCore

/// A volume's client stack built from its spec: the root to send operations to, and the protocol clients at the
/// leaves so the stack can be shut down.
public struct VolumeGraph: Sendable {
    public let root: any FileOperations
    public let protocolClients: [ProtocolClient]

    /// Builds the layers the spec names, bottom-up. Each layer type appears once in the switch below; a new layer
    /// type is a new `LayerSpec` case and the compiler points here.
    public static func build(
        _ spec: VolumeSpec, clientName: String, eventLoopGroup: any EventLoopGroup, logger: Logger
    ) throws -> VolumeGraph {
        var clients: [ProtocolClient] = []
        let root = try build(spec.graph, clientName: clientName, eventLoopGroup: eventLoopGroup, logger: logger,
                             clients: &clients)
        return VolumeGraph(root: root, protocolClients: clients)
    }

    private static func build(
        _ layer: LayerSpec, clientName: String, eventLoopGroup: any EventLoopGroup, logger: Logger,
        clients: inout [ProtocolClient]
    ) throws -> any FileOperations {
        switch layer {
        case .distribute(let options, let children):
            guard !children.isEmpty, children.count <= Limits.bricksPerVolumeMax else {
                throw FileSystemError.invalidArgument("distribute layer with \(children.count) children")
            }
            let built = try children.map {
                try build($0, clientName: clientName, eventLoopGroup: eventLoopGroup, logger: logger, clients: &clients)
            }
            return Distribute(children: built, options: options, logger: logger)
        case .replicate:
            throw FileSystemError(
                .protocolNotSupported,
                "replicated volumes need the replicate layer, which this build does not have yet")
        case .protocolClient(let options):
            let endpoint = LocalBrick.endpoint(for: options)
            var brickLogger = logger
            brickLogger[metadataKey: "brick"] = "\(options.host):\(options.brickPath)"
            let timeout = options.requestTimeoutMilliseconds ?? Limits.requestTimeoutMilliseconds
            let client = ProtocolClient(
                endpoint: endpoint, clientName: clientName, eventLoopGroup: eventLoopGroup, logger: brickLogger,
                requestTimeout: .milliseconds(timeout))
            clients.append(client)
            return client
        }
    }

    /// Closes every brick connection.
    public func shutdown() {
        for client in protocolClients { client.shutdown() }
    }
}
