import MortarCore
import NIOCore

/// Where a brick listens or a client connects: a TCP host and port, or a Unix-domain socket.
public enum Endpoint: Sendable, Hashable, CustomStringConvertible {
    case tcp(host: String, port: Int)
    case unixSocket(path: String)

    public var description: String {
        switch self {
        case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .unixSocket(let path): "unix:\(path)"
        }
    }
}

/// Socket receive buffers sized for whole frames: with NIO's default (at most 64 KiB per read) a 1 MiB reply
/// arrives in 16 pieces that the frame decoder glues together, one more copy of every byte. Letting a read grow to
/// two frames usually hands the decoder a whole frame to slice.
public enum TransportTuning {
    public static let receiveAllocator = AdaptiveRecvByteBufferAllocator(
        minimum: 4096, initial: 64 * 1024, maximum: 2 * Limits.frameByteCountMax)
}
