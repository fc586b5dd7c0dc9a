import Foundation
import Logging
import MortarBrickServer
import MortarCore
import MortarPosixStorage
import MortarProtocolClient
import MortarTesting
import MortarTransport
import NIOCore
import NIOPosix

/// A real brick on loopback: PosixStorage in a temporary directory (or any storage) behind the wire protocol,
/// served on an ephemeral port in this process, with a protocol client connected to it.
final class LoopbackBrick: Sendable {
    let root: String
    let service: BrickService
    let bound: BoundBrick
    let port: Int
    let serveTask: Task<Void, any Error>

    static func makeTemporaryDirectory(_ prefix: String = "mortar-stack") throws -> String {
        var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
        guard let pointer = mkdtemp(&template) else { throw FileSystemError.fromErrno("mkdtemp", prefix) }
        return String(cString: pointer)
    }

    /// Starts a brick over PosixStorage in a new directory (or `root`), on `port` (0 = any free port).
    static func start(root: String? = nil, port: Int = 0, storage: (any FileOperations)? = nil) async throws
        -> LoopbackBrick
    {
        let directory = try root ?? makeTemporaryDirectory()
        let backend: any FileOperations
        if let storage {
            backend = storage
        } else {
            backend = try await PosixStorage.prepare(
                root: directory, threadPool: .singleton, logger: OperationContext.silentLogger)
        }
        let service = BrickService(
            storage: backend, endpoints: [.tcp(host: "127.0.0.1", port: port)],
            eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: OperationContext.silentLogger)
        let bound = try await service.start()
        let task = Task { try await service.serve(bound) }
        return LoopbackBrick(root: directory, service: service, bound: bound, serveTask: task)
    }

    private init(root: String, service: BrickService, bound: BoundBrick, serveTask: Task<Void, any Error>) {
        self.root = root
        self.service = service
        self.bound = bound
        self.port = bound.port ?? 0
        self.serveTask = serveTask
    }

    var endpoint: Endpoint { .tcp(host: "127.0.0.1", port: port) }

    func makeClient(name: String = "test") -> ProtocolClient {
        ProtocolClient(
            endpoint: endpoint, clientName: name, eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
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
