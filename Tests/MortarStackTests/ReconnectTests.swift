import Foundation
import MortarCore
import MortarProtocolClient
import MortarSecurity
import NIOCore
import NIOPosix
import Synchronization
import Testing

@Suite("Brick restarts")
struct ReconnectTests {
    /// A brick that goes away fails calls in flight and later calls with ENOTCONN (no hang); when it comes back on
    /// the same port, open files carry on without the application reopening them.
    @Test func openFilesSurviveABrickRestart() async throws {
        let brick = try await LoopbackBrick.start()
        let client = brick.makeClient()
        let context = OperationContext()
        let created = try await client.create(
            "survivor", in: .root, id: .random(), permissions: 0o644, flags: .readWrite, context: context)
        _ = try await client.write(ByteBuffer(string: "before"), to: created.file, at: 0, context: context)
        let locked = try await client.create(
            "locked", in: .root, id: .random(), permissions: 0o644, flags: .readWrite, context: context)
        try await client.lock(locked.file, LockRequest(kind: .write, start: 0, length: 0, owner: 1), wait: false,
                              context: context)

        await brick.stop()
        let restarted = try await LoopbackBrick.start(root: brick.root, port: brick.port)

        _ = try await client.write(ByteBuffer(string: "after"), to: created.file, at: 6, context: context)
        let data = try await client.read(from: created.file, at: 0, count: 100, context: context)
        #expect(String(buffer: data) == "beforeafter")
        let error = await #expect(throws: FileSystemError.self) {
            _ = try await client.read(from: locked.file, at: 0, count: 1, context: context)
        }
        #expect(error?.code == .badFileHandle, "a file whose locks were lost must not silently carry on")
        client.shutdown()
        await restarted.stop()
        brick.removeDirectory()
    }

    @Test func aBrickThatStaysDownGivesAnErrorNotAHang() async throws {
        let brick = try await LoopbackBrick.start()
        let client = brick.makeClient()
        let context = OperationContext()
        _ = try await client.attributes(of: .root, context: context)
        await brick.stop()
        let error = await #expect(throws: FileSystemError.self) {
            _ = try await client.attributes(of: .root, context: context)
        }
        #expect(error?.code == .notConnected)
        client.shutdown()
        brick.removeDirectory()
    }
}

/// A brick stack whose reads never answer: a stand-in for a stopped or wedged brick process.
private final class NeverAnsweringReads: Layer {
    let next: any FileOperations
    init(next: any FileOperations) { self.next = next }

    func read(from file: OpenFile, at offset: UInt64, count: Int, context: OperationContext) async throws
        -> ByteBuffer
    {
        try await Task.sleep(for: .seconds(3600))
        throw FileSystemError(.interrupted, "unreachable")
    }
}

@Suite("Bricks that stop answering")
struct RequestTimeoutTests {
    /// A request the brick never answers fails with ETIMEDOUT after the configured timeout, and the client
    /// carries on with a fresh connection. The timeout is far above what an answered request takes even on a loaded
    /// two-core machine (a 0.5 s timeout once expired on the create before the read): only the read never answers.
    @Test func unansweredRequestTimesOut() async throws {
        let root = try LoopbackBrick.makeTemporaryDirectory("mortar-hang")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let brick = try await LoopbackBrick.start(root: root, aboveStorage: { NeverAnsweringReads(next: $0) })
        let client = ProtocolClient(
            endpoint: brick.endpoint, clientName: "impatient", security: .insecure, eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
            logger: OperationContext.silentLogger, requestTimeout: .seconds(5))
        let context = OperationContext()
        let created = try await client.create(
            "stuck", in: .root, id: .random(), permissions: 0o644, flags: .readWrite, context: context)
        let error = await #expect(throws: FileSystemError.self) {
            _ = try await client.read(from: created.file, at: 0, count: 10, context: context)
        }
        #expect(error?.code == .timedOut)
        #expect(try await client.attributes(of: .root, context: context).type == .directory,
                "the next call reconnects")
        client.shutdown()
        await brick.stop()
        brick.removeDirectory()
    }

    /// A watched call (``ReplyWatch``) whose reply does not come is told so once its grace is over, and again
    /// while it waits; the watch's error ends it long before the request timeout, and the connection serves the
    /// next call. A call answered within its grace never runs its watch.
    @Test func aWatchedCallIsEndedByItsWatchNotByTheTimeout() async throws {
        let root = try LoopbackBrick.makeTemporaryDirectory("mortar-watch")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let brick = try await LoopbackBrick.start(root: root, aboveStorage: { NeverAnsweringReads(next: $0) })
        let client = ProtocolClient(
            endpoint: brick.endpoint, clientName: "watching", security: .insecure,
            eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: OperationContext.silentLogger,
            requestTimeout: .seconds(120))
        // A call answered within its grace never runs its watch (a grace no answer on a loaded machine exceeds).
        let patientChecks = Atomic<Int>(0)
        var patient = OperationContext()
        patient.replyWatch = ReplyWatch(grace: .seconds(60)) {
            patientChecks.add(1, ordering: .relaxed)
            return nil
        }
        let created = try await client.create(
            "watched", in: .root, id: .random(), permissions: 0o644, flags: .readWrite, context: patient)
        #expect(patientChecks.load(ordering: .relaxed) == 0, "a call answered within its grace ran its watch")
        let checks = Atomic<Int>(0)
        var watched = OperationContext()
        watched.replyWatch = ReplyWatch(grace: .milliseconds(200)) {
            // Keep waiting twice, then give up.
            checks.add(1, ordering: .relaxed).oldValue < 2 ? nil : FileSystemError(.membershipChanged, "abandoned by the watch")
        }
        let started = ContinuousClock.now
        let error = await #expect(throws: FileSystemError.self) {
            _ = try await client.read(from: created.file, at: 0, count: 10, context: watched)
        }
        let elapsed = ContinuousClock.now - started
        print("a watched call the brick never answered ended after \(elapsed)")
        #expect(error?.code == .membershipChanged && error?.message == "abandoned by the watch", "\(String(describing: error))")
        #expect(checks.load(ordering: .relaxed) == 3)
        #expect(elapsed < .seconds(60), "the call waited for its request timeout, not for its watch")
        #expect(try await client.attributes(of: .root, context: patient).type == .directory)
        client.shutdown()
        await brick.stop()
        brick.removeDirectory()
    }
}
