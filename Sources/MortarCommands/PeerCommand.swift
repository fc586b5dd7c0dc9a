import ArgumentParser
import MortarManagementAPI

/// `mortar peer probe|status|detach`: which hosts form the cluster.
struct PeerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "peer", abstract: "Manage the hosts of the cluster.",
        subcommands: [Probe.self, Status.self, Detach.self])

    struct Probe: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a host whose mortar daemon runs.")
        @OptionGroup var options: ManagerOptions
        @Argument(help: "The host to add, as HOST[:PORT].") var host: String

        func run() async throws {
            try await reportingFailure {
                let address = try ManagementClient.parseAddress(host)
                let peer = try await options.client().probePeer(host: address.host, port: address.port)
                print("peer probe: success: \(peer.host):\(peer.port) (\(peer.id))")
            }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the peers and whether they answer.")
        @OptionGroup var options: ManagerOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            try await reportingFailure {
                let client = try options.client()
                let peers = try await client.peers()
                if json { return try printJSON(peers) }
                let me = try await client.hello()
                // Which daemon decides replica sets' membership: one at a time, by an etcd lease.
                let role = me.managerRole.map { $0 ? "holds the manager role" : "does not hold the manager role" }
                print("This daemon: \(me.host) (\(me.daemonID))" + (role.map { ", \($0)" } ?? ""))
                print("Number of Peers: \(peers.count)")
                for peer in peers {
                    print("\nHostname: \(peer.host)\nPort: \(peer.port)\nUuid: \(peer.id)\nState: \(peer.state)")
                }
            }
        }
    }

    struct Detach: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a host that holds no bricks.")
        @OptionGroup var options: ManagerOptions
        @Argument(help: "The peer's host name, as probed.") var host: String

        func run() async throws {
            try await reportingFailure {
                try await options.client().detachPeer(host: host)
                print("peer detach: success")
            }
        }
    }
}
