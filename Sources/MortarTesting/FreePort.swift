#if canImport(Glibc)
import Glibc
#endif
import MortarCore

/// A TCP port on 127.0.0.1 that nobody listens on right now: bound to port 0, read back, released. Another process
/// may take it before the caller does; tests use it where a fixed port must survive a restart.
public func freeLoopbackPort() throws(FileSystemError) -> Int {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { throw FileSystemError.fromErrno("socket", "127.0.0.1:0") }
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
            bind(descriptor, pointer, length) == 0 && getsockname(descriptor, pointer, &length) == 0
        }
    }
    guard bound else { throw FileSystemError.fromErrno("bind", "127.0.0.1:0") }
    return Int(UInt16(bigEndian: address.sin_port))
}
