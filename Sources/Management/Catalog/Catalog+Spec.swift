import MortarCore
import MortarMembership
import MortarVolumeSpec

extension Catalog {
    /// The client layer graph for `volume`. Not replicated: a lone brick is just its protocol client, several
    /// bricks sit under a distribute layer in brick order. Replicated: each set is a replicate layer over its
    /// members' protocol clients in member order; a lone set is the root, several sit under a distribute layer.
    public func spec(for volume: Volume) -> VolumeSpec {
        let clients = volume.bricks.sorted { $0.index < $1.index }.map { brick in
            LayerSpec.protocolClient(
                ProtocolClientOptions(
                    host: brick.host, port: brick.port,
                    unixSocketPath: ProtocolClientOptions.localSocketPath(port: brick.port, brickPath: brick.path),
                    brickPath: brick.path, brickIndex: brick.index))
        }
        let children: [LayerSpec] =
            if volume.isReplicated {
                volume.replicaSets.map { membership in
                    let setIndex = membership.view.setIndex
                    let members = clients[setIndex * volume.replicaCount..<(setIndex + 1) * volume.replicaCount]
                    return LayerSpec.replicate(
                        ReplicateOptions(setIndex: setIndex, minInSync: membership.view.minInSync),
                        children: Array(members))
                }
            } else {
                clients
            }
        let graph: LayerSpec =
            children.count == 1 ? children[0] : .distribute(DistributeOptions(layout: volume.layout), children: children)
        // Every option was validated when it was set; a catalog written by hand that holds a bad one gets the
        // defaults here, and `volume set` names the problem.
        let options = (try? VolumeOptions(volume.options)) ?? VolumeOptions()
        return VolumeSpec(
            name: volume.name, volumeID: volume.id, catalogVersion: version, graph: graph,
            client: ClientOptions(
                readAhead: options.readAhead, writeBehind: options.writeBehind, localReads: options.localReads))
    }
}
