import Foundation
import Logging
import MortarBrick
import MortarBrickServer
import MortarCore
import MortarProtocolClient
import MortarSecurity
import MortarTesting
import MortarTransport
import NIOCore
import NIOPosix

/// A real brick on loopback: the stack a `mortar brick` process serves (`BrickStack.assemble`) over a temporary
/// directory, on an ephemeral port in this process, with a protocol client connected to it.
final class LoopbackBrick: Sendable {
    let root: String
    let stack: BrickStack
    let bound: BoundBrick
    let port: Int
    let serveTask: Task<Void, any Error>

    var service: BrickService { stack.service }

    static func makeTemporaryDirectory(_ prefix: String = "mortar-stack") throws -> String {
        var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
        guard let pointer = mkdtemp(&template) else { throw FileSystemError.fromErrno("mkdtemp", prefix) }
        return String(cString: pointer)
    }

    /// Starts a brick over a new directory (or `root`), on `port` (0 = any free port) and `unixSocket` if given;
    /// `replica` makes it a member
    /// of a replica set, and `aboveStorage` puts a test layer between its storage and the rest of the stack.
    static func start(
        root: String? = nil, port: Int = 0, unixSocket: String? = nil, replica: BrickReplicaSource = .none,
        security: TransportSecurity = .insecure,
        aboveStorage: (any FileOperations) -> any FileOperations = { $0 },
        metrics: (volume: String, brick: Int)? = nil
    ) async throws -> LoopbackBrick {
        let directory = try root ?? makeTemporaryDirectory()
        let stack = try await BrickStack.assemble(
            export: directory,
            endpoints: [.tcp(host: "127.0.0.1", port: port)] + (unixSocket.map { [.unixSocket(path: $0)] } ?? []),
            replica: replica,
            threadPool: .singleton, security: security, logger: OperationContext.silentLogger,
            aboveStorage: aboveStorage, metrics: metrics)
        let bound = try await stack.start()
        let task = Task { try await stack.service.serve(bound) }
        return LoopbackBrick(root: directory, stack: stack, bound: bound, serveTask: task)
    }

    private init(root: String, stack: BrickStack, bound: BoundBrick, serveTask: Task<Void, any Error>) {
        self.root = root
        self.stack = stack
        self.bound = bound
        self.port = bound.port ?? 0
        self.serveTask = serveTask
    }

    var endpoint: Endpoint { .tcp(host: "127.0.0.1", port: port) }

    func makeClient(
        name: String = "test", security: TransportSecurity = .insecure, endpoint: Endpoint? = nil
    ) -> ProtocolClient {
        ProtocolClient(
            endpoint: endpoint ?? self.endpoint, clientName: name, security: security,
            eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
            logger: OperationContext.silentLogger)
    }

    /// Stops the brick: the listener and every connection close, as when the process dies.
    func stop() async {
        serveTask.cancel()
        bound.close()
        _ = try? await serveTask.value
    }

    func removeDirectory() {
        try? FileManager.default.removeItem(atPath: root)
    }
}
