import Foundation
import Glibc
import MortarTransport
import MortarVolumeSpec
import Testing

@testable import MortarVolumeGraph

/// A client uses a brick's Unix socket only when the spec's brick is on this host and the socket is trusted:
/// every host may export the same path on the same port, so the file alone must not decide.
@Suite("Choosing the local socket")
struct LocalBrickTests {
    /// Binds a Unix socket at a fresh path (owned by this user) and returns the path.
    static func makeSocket() throws -> String {
        let path = NSTemporaryDirectory() + "mortar-local-\(UUID().uuidString.prefix(8)).sock"
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { bytes in
            for (index, byte) in path.utf8.enumerated() { bytes[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        try #require(bound == 0, "binding a test socket failed: errno \(errno)")
        return path
    }

    static func options(host: String, socket: String?) -> ProtocolClientOptions {
        ProtocolClientOptions(host: host, port: 49152, unixSocketPath: socket, brickPath: "/b", brickIndex: 0)
    }

    @Test func localBrickWithASocketUsesIt() throws {
        let path = try Self.makeSocket()
        defer { unlink(path) }
        #expect(LocalBrick.endpoint(for: Self.options(host: "127.0.0.1", socket: path)) == .unixSocket(path: path))
        #expect(LocalBrick.endpoint(for: Self.options(host: "localhost", socket: path)) == .unixSocket(path: path))
    }

    @Test func remoteBrickNeverUsesALocalSocketOfTheSameName() throws {
        let path = try Self.makeSocket()
        defer { unlink(path) }
        // TEST-NET-3: never an address of this machine.
        let remote = Self.options(host: "203.0.113.9", socket: path)
        #expect(LocalBrick.endpoint(for: remote) == .tcp(host: "203.0.113.9", port: 49152))
    }

    @Test func missingOrNonSocketPathFallsBackToTCP() throws {
        let missing = Self.options(host: "127.0.0.1", socket: "/nonexistent/mortar.sock")
        #expect(LocalBrick.endpoint(for: missing) == .tcp(host: "127.0.0.1", port: 49152))
        let plainFile = NSTemporaryDirectory() + "mortar-not-a-socket-\(UUID().uuidString.prefix(8))"
        #expect(FileManager.default.createFile(atPath: plainFile, contents: Data()))
        defer { unlink(plainFile) }
        #expect(LocalBrick.endpoint(for: Self.options(host: "127.0.0.1", socket: plainFile)) == .tcp(host: "127.0.0.1", port: 49152))
    }
}
