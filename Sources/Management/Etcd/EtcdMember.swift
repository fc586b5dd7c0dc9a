/// How to run one etcd member of a cluster whose members all run on named loopback or storage-network addresses:
/// the command line `mortar up` uses for its embedded one-member cluster, and tests for theirs. etcd's own defaults
/// apply otherwise (election timeout 1 s, heartbeat 100 ms).
public struct EtcdMember: Sendable, Hashable {
    public var name: String
    public var host: String
    public var clientPort: Int
    public var peerPort: Int

    public init(name: String, host: String, clientPort: Int, peerPort: Int) {
        self.name = name
        self.host = host
        self.clientPort = clientPort
        self.peerPort = peerPort
    }

    public var clientURL: String { "http://\(host):\(clientPort)" }
    public var peerURL: String { "http://\(host):\(peerPort)" }
    public var endpoint: EtcdEndpoint { EtcdEndpoint(host: host, port: clientPort) }

    /// The arguments (after the `etcd` executable) that start this member of `cluster` (every member, itself
    /// included) with its data in `dataDirectory`. `token` keeps members of different clusters from joining each
    /// other by accident.
    public func arguments(cluster: [EtcdMember], dataDirectory: String, token: String) -> [String] {
        [
            "--name", name, "--data-dir", dataDirectory,
            "--listen-client-urls", clientURL, "--advertise-client-urls", clientURL,
            "--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
            "--initial-cluster", cluster.map { "\($0.name)=\($0.peerURL)" }.joined(separator: ","),
            "--initial-cluster-token", token, "--initial-cluster-state", "new",
            // No metrics or profiling listeners beyond the client port; logs go to the caller's file.
            "--log-level", "warn", "--logger", "zap",
        ]
    }
}
