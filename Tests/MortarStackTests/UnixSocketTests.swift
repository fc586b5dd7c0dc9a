import Foundation
import MortarBrick
import MortarBrickServer
import MortarCore
import MortarProtocolClient
import MortarSecurity
import MortarTransport
import NIOCore
import NIOPosix
import Testing

@Suite("Unix-domain sockets")
struct UnixSocketTests {
    /// A brick serves the same protocol on a Unix-domain socket as on TCP.
    @Test func clientTalksToABrickOverAUnixSocket() async throws {
        let root = try LoopbackBrick.makeTemporaryDirectory("mortar-unix")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let socketPath = root + ".sock"
        let stack = try await BrickStack.assemble(
            export: root, endpoints: [.unixSocket(path: socketPath)], threadPool: .singleton, security: .insecure,
            logger: OperationContext.silentLogger)
        let bound = try await stack.start()
        let serving = Task { try await stack.service.serve(bound) }
        let client = ProtocolClient(
            endpoint: .unixSocket(path: socketPath), clientName: "unix", security: .insecure, eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
            logger: OperationContext.silentLogger)
        let context = OperationContext()
        let created = try await client.create(
            "over-unix", in: .root, id: .random(), permissions: 0o600, flags: .readWrite, context: context)
        _ = try await client.write(ByteBuffer(string: "local"), to: created.file, at: 0, context: context)
        let data = try await client.read(from: created.file, at: 0, count: 10, context: context)
        #expect(String(buffer: data) == "local")
        try await client.release(created.file, context: context)
        client.shutdown()
        serving.cancel()
        bound.close()
        _ = try? await serving.value
    }
}
