import Glibc
import MortarTransport
import MortarVolumeSpec

/// Chooses how to reach a brick: its Unix-domain socket when the brick runs on this host, TCP otherwise.
///
/// "On this host" must be decided by the brick's address, not by the socket file alone: every host of a cluster
/// may export the same path on the same port, so a socket file here can belong to a different brick than the one
/// the spec names. The socket must also be owned by root or by us, so another user cannot stand in for a brick,
/// and usable by this process.
///
/// `MORTAR_LOCAL_SOCKET=off` in the environment keeps every connection on TCP (with TLS when it is on): for measuring
/// the network path on one machine, and for checking that a host reaches its own bricks the way others do.
enum LocalBrick {
    static func endpoint(for options: ProtocolClientOptions) -> Endpoint {
        let tcp = Endpoint.tcp(host: options.host, port: options.port)
        guard options.port == 0 || !localSocketDisabled && isLocalHost(options.host), let path = options.unixSocketPath,
            isTrustedSocket(path)
        else { return tcp }
        return .unixSocket(path: path)
    }

    /// Read once per process: the choice must not change under a running client.
    static let localSocketDisabled: Bool = {
        guard let value = getenv("MORTAR_LOCAL_SOCKET") else { return false }
        return String(cString: value) == "off"
    }()

    static func isTrustedSocket(_ path: String) -> Bool {
        var status = stat()
        guard lstat(path, &status) == 0, status.st_mode & S_IFMT == S_IFSOCK else { return false }
        // A socket this process may not use (a brick with TLS on keeps it to root) leaves TCP, with a certificate.
        return (status.st_uid == 0 || status.st_uid == geteuid()) && access(path, R_OK | W_OK) == 0
    }

    /// Loopback names and addresses, this machine's host name, and the addresses of its interfaces (in the
    /// caller's network namespace).
    static func isLocalHost(_ host: String) -> Bool {
        if host == "localhost" || host == "::1" || host.hasPrefix("127.") { return true }
        var name = [CChar](repeating: 0, count: 256)
        if gethostname(&name, name.count) == 0,
            String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) == host
        {
            return true
        }
        return interfaceAddresses().contains(host)
    }

    private static func interfaceAddresses() -> Set<String> {
        var first: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&first) == 0 else { return [] }
        defer { freeifaddrs(first) }
        var addresses: Set<String> = []
        var cursor = first
        while let entry = cursor {
            defer { cursor = entry.pointee.ifa_next }
            guard let address = entry.pointee.ifa_addr else { continue }
            let family = Int32(address.pointee.sa_family)
            guard family == AF_INET || family == AF_INET6 else { continue }
            var text = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            let length = socklen_t(family == AF_INET ? MemoryLayout<sockaddr_in>.size : MemoryLayout<sockaddr_in6>.size)
            if getnameinfo(address, length, &text, socklen_t(text.count), nil, 0, NI_NUMERICHOST) == 0 {
                addresses.insert(String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
            }
        }
        return addresses
    }
}
