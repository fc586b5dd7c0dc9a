import MortarVolumeSpec

extension Catalog {
    /// The client layer graph for `volume`: a lone brick is just its protocol client; several bricks sit under a
    /// distribute layer, in brick order.
    public func spec(for volume: Volume) -> VolumeSpec {
        let clients = volume.bricks.sorted { $0.index < $1.index }.map { brick in
            LayerSpec.protocolClient(
                ProtocolClientOptions(
                    host: brick.host, port: brick.port,
                    unixSocketPath: ProtocolClientOptions.localSocketPath(port: brick.port, brickPath: brick.path),
                    brickPath: brick.path, brickIndex: brick.index))
        }
        let graph: LayerSpec =
            clients.count == 1 ? clients[0] : .distribute(DistributeOptions(), children: clients)
        return VolumeSpec(name: volume.name, volumeID: volume.id, catalogVersion: version, graph: graph)
    }
}
