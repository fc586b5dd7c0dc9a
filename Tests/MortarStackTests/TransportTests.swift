import MortarCore
import MortarTransport
import MortarWire
import NIOCore
import NIOPosix
import Testing

/// Raw connections that misbehave: the brick must close them with a reason and keep serving everyone else.
@Suite("Transport faults")
struct TransportFaultTests {
    /// Connects a raw socket, sends `bytes`, and waits (bounded) for the brick to close the connection.
    static func sendRaw(_ bytes: [UInt8], to port: Int) async throws -> ByteBuffer {
        let collector = Collector()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in channel.pipeline.addHandler(collector) }
            .connect(host: "127.0.0.1", port: port).get()
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await channel.closeFuture.get() }
            group.addTask {
                try await Task.sleep(for: .seconds(10))
                throw FileSystemError(.timedOut, "brick did not close a misbehaving connection within 10 s")
            }
            try await group.next()
            group.cancelAll()
        }
        return collector.received
    }

    final class Collector: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        // Touched only on the channel's event loop, read after the channel closed.
        var received = ByteBuffer()
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var bytes = unwrapInboundIn(data)
            received.writeBuffer(&bytes)
        }
    }

    func expectBrickStillServes(_ brick: LoopbackBrick) async throws {
        let client = brick.makeClient()
        let root = try await client.attributes(of: .root, context: OperationContext())
        #expect(root.type == .directory)
        client.shutdown()
    }

    @Test func garbageBytesCloseOnlyThatConnection() async throws {
        let brick = try await LoopbackBrick.start()
        let bystander = brick.makeClient(name: "bystander")
        _ = try await bystander.attributes(of: .root, context: OperationContext())
        var generator = SystemRandomNumberGenerator()
        let garbage = (0..<4096).map { _ in UInt8.random(in: 0...255, using: &generator) }
        _ = try await Self.sendRaw(garbage, to: brick.port)
        _ = try await bystander.attributes(of: .root, context: OperationContext())
        try await expectBrickStillServes(brick)
        bystander.shutdown()
        await brick.stop()
        brick.removeDirectory()
    }

    @Test func oversizedFrameClosesTheConnection() async throws {
        let brick = try await LoopbackBrick.start()
        var bytes: [UInt8] = []
        let length = UInt32(Limits.frameByteCountMax + 1)
        bytes += [UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)]
        bytes += [3] + Array(repeating: 0, count: 64)
        _ = try await Self.sendRaw(bytes, to: brick.port)
        try await expectBrickStillServes(brick)
        await brick.stop()
        brick.removeDirectory()
    }

    @Test func requestBeforeHelloIsRefused() async throws {
        let brick = try await LoopbackBrick.start()
        var payload = ByteBuffer()
        Request.fileSystemStatistics.encode(
            credentials: WireCredentials(userID: 0, groupID: 0, supplementaryGroupIDs: [], processID: 0),
            into: &payload)
        var frame = ByteBuffer()
        Frame(kind: .request, requestID: 1, payload: payload).write(to: &frame)
        let answer = try await Self.sendRaw(Array(frame.readableBytesView), to: brick.port)
        #expect(answer.readableBytes == 0, "a request before the handshake must get no answer")
        try await expectBrickStillServes(brick)
        await brick.stop()
        brick.removeDirectory()
    }

    @Test func versionMismatchIsRejectedWithReason() async throws {
        let brick = try await LoopbackBrick.start()
        var payload = ByteBuffer()
        Handshake.Hello(protocolVersion: 99, clientName: "from-the-future").encode(into: &payload)
        var frame = ByteBuffer()
        Frame(kind: .hello, requestID: 0, payload: payload).write(to: &frame)
        var answer = try await Self.sendRaw(Array(frame.readableBytesView), to: brick.port)
        let reply = try #require(try FrameParser().nextFrame(from: &answer))
        #expect(reply.kind == .helloReply)
        let error = #expect(throws: FileSystemError.self) { try Handshake.decodeReply(reply.payload) }
        #expect(error?.message.contains("version mismatch") == true)
        #expect(error?.message.contains("99") == true)
        await brick.stop()
        brick.removeDirectory()
    }
}
