import Foundation
import MortarCore
import MortarSecurity
import MortarTesting
import MortarTransport
import MortarWire
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// The frame decoder's fuzz (`FrameParserTests`) again, but through a brick's TLS listener as an authenticated
/// client sends it: random bytes, valid hellos followed by mutated requests, truncations, oversized lengths. The
/// brick must close or answer each connection without trapping, and a well-behaved client must keep working
/// between batches and after the last.
@Suite struct TLSFrameFuzzTests {
    static let rounds = 120
    static let batch = 12

    @Test(arguments: [1, 2] as [UInt64])
    func fuzzedFramesThroughTLS(seed: UInt64) async throws {
        print("TLSFrameFuzzTests seed \(seed)")
        var generator = SplitMix64(seed: seed)
        let setup = try await TLSBrickTests.Setup.start()
        let tls = try #require(try TestCertificates.security(setup.certificates.clientDirectory).context)
        let valid = Self.validStream()
        var closedByBrick = 0
        var answered = 0
        for start in stride(from: 0, to: Self.rounds, by: Self.batch) {
            let inputs = (start..<min(start + Self.batch, Self.rounds)).map { _ in
                Self.fuzzed(valid, using: &generator)
            }
            let outcomes = try await withThrowingTaskGroup(of: RawOutcome.self) { group in
                for input in inputs {
                    group.addTask { try await Self.send(input, to: setup.brick.port, tls: tls) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            closedByBrick += outcomes.filter(\.closedByPeer).count
            answered += outcomes.filter { $0.receivedBytes > 0 }.count
            // A client of the cluster is served between batches: the brick is alive and not wedged.
            let client = setup.brick.makeClient(
                security: try TestCertificates.security(setup.certificates.clientDirectory))
            _ = try await client.attributes(of: .root, context: OperationContext())
            client.shutdown()
        }
        print("TLS frame fuzz: \(Self.rounds) connections, \(answered) got an answer, \(closedByBrick) closed by the brick")
        #expect(closedByBrick > 0, "no fuzzed connection was ever closed by the brick: the input never reached it")
        #expect(answered > 0, "no fuzzed connection got an answer: the valid hellos never reached the brick")
        let created = try await setup.brick.makeClient(
            security: try TestCertificates.security(setup.certificates.clientDirectory)
        ).create("after-fuzz", in: .root, id: .random(), permissions: 0o644, flags: .readWrite, context: OperationContext())
        #expect(created.attributes.size == 0)
        await setup.tearDown()
    }

    struct RawOutcome: Sendable {
        var receivedBytes: Int
        var closedByPeer: Bool
    }

    /// A valid hello and a few valid requests, as one byte stream.
    static func validStream() -> [UInt8] {
        var stream = ByteBuffer()
        var hello = ByteBuffer()
        Handshake.Hello(clientName: "fuzz").encode(into: &hello)
        Frame(kind: .hello, requestID: 0, payload: hello).write(to: &stream)
        let credentials = WireCredentials(userID: 0, groupID: 0, supplementaryGroupIDs: [], processID: 1)
        let requests: [Request] = [
            .lookup(name: "a", parent: .root),
            .attributes(.root),
            .makeDirectory(name: "d", parent: .root, id: .random(), permissions: 0o755),
            .create(name: "f", parent: .root, id: .random(), permissions: 0o644, flags: .readWrite),
            .readDirectory(.root, cookie: 0, countMax: 16),
            .read(OpenFile(id: .root, handle: 1), offset: 0, count: 4096),
        ]
        for (index, request) in requests.enumerated() {
            var payload = ByteBuffer()
            request.encode(credentials: credentials, into: &payload)
            Frame(kind: .request, requestID: UInt64(index + 1), payload: payload).write(to: &stream)
        }
        return Array(stream.readableBytesView)
    }

    /// Random bytes; the valid stream with bytes flipped; cut short; or with a frame length made huge.
    static func fuzzed(_ valid: [UInt8], using generator: inout SplitMix64) -> [UInt8] {
        switch Int.random(in: 0..<4, using: &generator) {
        case 0:
            return (0..<Int.random(in: 1..<512, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        case 1:
            var bytes = valid
            for _ in 0..<Int.random(in: 1...12, using: &generator) {
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            return bytes
        case 2:
            return Array(valid.prefix(Int.random(in: 1..<valid.count, using: &generator)))
        default:
            var bytes = valid
            let length = UInt32.random(in: UInt32(Limits.frameByteCountMax)...UInt32.max, using: &generator)
            withUnsafeBytes(of: length.bigEndian) { bytes.replaceSubrange(0..<4, with: $0) }
            return bytes
        }
    }

    /// Sends `bytes` over a new TLS connection holding the client certificate, then waits (bounded) for the brick
    /// to close it; closes it itself after the wait.
    static func send(_ bytes: [UInt8], to port: Int, tls: TLSContext) async throws -> RawOutcome {
        let counter = ByteCounter()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers(try tls.makeClientHandlers(note: HandshakeNote()))
                    try channel.pipeline.syncOperations.addHandler(counter)
                }
            }
            .connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: port)).get()
        // A write may fail once the brick has closed the connection; the outcome below says what happened.
        try? await channel.writeAndFlush(ByteBuffer(bytes: bytes)).get()
        let closedByPeer = try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try await channel.closeFuture.get()
                return true
            }
            group.addTask {
                try await Task.sleep(for: .milliseconds(400))
                return false
            }
            let first = try await group.next() ?? false
            group.cancelAll()
            // Ends the wait on closeFuture; closing a channel the brick already closed fails, the state wanted.
            try? await channel.close()
            return first
        }
        return RawOutcome(receivedBytes: counter.received, closedByPeer: closedByPeer)
    }

    /// Counts the bytes the brick sent back (after TLS).
    final class ByteCounter: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        private let count = Atomic<Int>(0)
        var received: Int { count.load(ordering: .relaxed) }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            count.wrappingAdd(unwrapInboundIn(data).readableBytes, ordering: .relaxed)
        }
    }
}
