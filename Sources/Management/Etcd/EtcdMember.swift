import MortarSecurity

/// How to run one etcd member of a cluster whose members all run on named loopback or storage-network addresses:
/// the command line `mortar up` uses for its embedded one-member cluster, and tests for theirs. etcd's own defaults
/// apply otherwise (election timeout 1 s, heartbeat 100 ms).
public struct EtcdMember: Sendable, Hashable {
    public var name: String
    public var host: String
    public var clientPort: Int
    public var peerPort: Int
    /// A directory holding this host's credentials towards etcd (`etcd.pem`, `etcd.key`, `etcd-ca.pem`, which
    /// `mortar cert issue --role host` writes), or nil for a member without TLS. With it, the member serves
    /// clients and peers over mutual TLS and admits only certificates of the cluster's etcd CA: the cluster's
    /// hosts, not its users or applications.
    public var tlsDirectory: String?

    public init(name: String, host: String, clientPort: Int, peerPort: Int, tlsDirectory: String? = nil) {
        self.name = name
        self.host = host
        self.clientPort = clientPort
        self.peerPort = peerPort
        self.tlsDirectory = tlsDirectory
    }

    private var scheme: String { tlsDirectory == nil ? "http" : "https" }
    public var clientURL: String { "\(scheme)://\(host):\(clientPort)" }
    public var peerURL: String { "\(scheme)://\(host):\(peerPort)" }
    public var endpoint: EtcdEndpoint { EtcdEndpoint(host: host, port: clientPort, secure: tlsDirectory != nil) }

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
        ] + tlsArguments
    }

    /// etcd's flags for mutual TLS with the credentials in ``tlsDirectory``, towards clients and peers alike. A
    /// member checks a peer's certificate against the peer's address as well, so each host's certificate names its
    /// address (`mortar cert issue … --san ADDRESS`). (etcd 3.4's `--client-cert-allowed-hostname` would let one CA
    /// serve, but it breaks etcd's own JSON gateway, which checks its loopback connection with it and fails.)
    public var tlsArguments: [String] {
        guard let directory = tlsDirectory else { return [] }
        let names = TLSFiles.Names.etcd
        let certificate = directory + "/" + names.certificate
        let key = directory + "/" + names.privateKey
        let authority = directory + "/" + names.authority
        return [
            "--cert-file", certificate, "--key-file", key, "--trusted-ca-file", authority, "--client-cert-auth",
            "--peer-cert-file", certificate, "--peer-key-file", key, "--peer-trusted-ca-file", authority,
            "--peer-client-cert-auth",
        ]
    }
}
