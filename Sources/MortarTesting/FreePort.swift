#if canImport(Glibc)
import Glibc
#endif
import Foundation
import MortarCore
import Synchronization

/// A TCP port on 127.0.0.1 that nobody listens on right now, for tests that start a server (a daemon, an etcd
/// member) on a port they must know beforehand.
///
/// Taken below the kernel's ephemeral range, in turn: a port that `bind(0)` hands out is an ephemeral one, and any
/// outgoing connection of the suite — hundreds are open at a time — may be given it before the server binds (seen
/// in CI: a daemon that exited with "Address already in use" and a test that waited 90 s for it). Below the range
/// only servers told their port use one, and each port is handed out once per turn of the range, after a check
/// that it can be bound. `bind(0)` is the fallback when the whole range is taken.
public func freeLoopbackPort() throws(FileSystemError) -> Int {
    let range = FreePorts.range
    for _ in 0..<range.count {
        let port = range.lowerBound + FreePorts.next.wrappingAdd(1, ordering: .relaxed).oldValue % range.count
        // A port that cannot be bound is someone's: the next one is tried.
        if (try? bindLoopback(port)) != nil { return port }
    }
    return try bindLoopback(0)
}

private enum FreePorts {
    /// 2,700 ports just below the ephemeral range (32768–60999 by default), clear of the ranges the integration
    /// tests give bricks (10,000 up) and daemons (20,000–29,615).
    static let range: Range<Int> = {
        // The range as configured; the kernel's default when it cannot be read.
        let text = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? ""
        let lower = text.split(whereSeparator: \.isWhitespace).first.flatMap { Int($0) } ?? 32_768
        let top = max(lower, 30_100)
        return (top - 2_700)..<top
    }()
    /// Where the next search starts; test processes that run one after another begin apart.
    static let next = Atomic<Int>(Int(getpid()) % 2_700)
}

/// Binds a socket to 127.0.0.1:`port` (0: any), releases it, and returns the port it got.
private func bindLoopback(_ port: Int) throws(FileSystemError) -> Int {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { throw FileSystemError.fromErrno("socket", "127.0.0.1:\(port)") }
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
            bind(descriptor, pointer, length) == 0 && getsockname(descriptor, pointer, &length) == 0
        }
    }
    guard bound else { throw FileSystemError.fromErrno("bind", "127.0.0.1:\(port)") }
    return Int(UInt16(bigEndian: address.sin_port))
}
