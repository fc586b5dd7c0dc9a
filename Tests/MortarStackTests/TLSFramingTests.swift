import MortarCore
import MortarTesting
import MortarTransport
import MortarWire
import NIOCore
import NIOEmbedded
import Testing

/// The handlers that frame a TLS connection's bytes: ``FrameAssembler`` must give exactly the frames
/// ``FrameParser`` gives for any split of the stream, never keep the buffers it was handed, and refuse what the
/// parser refuses; ``TLSWriteSplitter`` must pass every byte on, in order, in bounded pieces.
@Suite("TLS framing")
struct TLSFramingTests {
    /// Frames of assorted sizes (empty payload to a megabyte), from a seeded generator.
    static func sampleFrames(_ generator: inout SplitMix64) -> [Frame] {
        (0..<40).map { index in
            let size = [0, 1, 13, 4096, 65_536 + 7, 1 << 20][Int.random(in: 0..<6, using: &generator)]
            let bytes = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ index) }
            return Frame(kind: index % 2 == 0 ? .request : .reply, requestID: UInt64(index), payload: ByteBuffer(bytes: bytes))
        }
    }

    static func stream(_ frames: [Frame]) -> ByteBuffer {
        var stream = ByteBuffer()
        for frame in frames { frame.write(to: &stream) }
        return stream
    }

    @Test(arguments: [1, 2, 3, 4, 5])
    func anySplitOfTheStreamGivesTheSameFrames(seed: UInt64) throws {
        var generator = SplitMix64(seed: seed)
        let frames = Self.sampleFrames(&generator)
        var stream = Self.stream(frames)
        let channel = EmbeddedChannel(handler: FrameAssembler())
        while stream.readableBytes > 0 {
            // Pieces from one byte (a split length prefix) to well past a frame.
            let count = min(stream.readableBytes, [1, 3, 5, 16_384, 100_000, 3 << 20][Int.random(in: 0..<6, using: &generator)])
            try channel.writeInbound(stream.readSlice(length: count)!)
        }
        var received: [Frame] = []
        while let frame = try channel.readInbound(as: Frame.self) { received.append(frame) }
        #expect(received.count == frames.count)
        for (got, sent) in zip(received, frames) {
            #expect(got.kind == sent.kind && got.requestID == sent.requestID && got.payload == sent.payload,
                    "frame \(sent.requestID)")
        }
        #expect(try channel.finish().isClean)
    }

    /// The point of the assembler: the buffer handed in is free again once `channelRead` returns, even when a
    /// whole frame sat inside it (a slice would have kept it).
    @Test func theIncomingBufferIsNeverKept() throws {
        let channel = EmbeddedChannel(handler: FrameAssembler())
        var stream = Self.stream([Frame(kind: .reply, requestID: 9, payload: ByteBuffer(repeating: 7, count: 8192))])
        stream.writeRepeatingByte(0, count: 2)  // the start of the next frame's length prefix
        let storage = Self.address(of: stream)
        try channel.writeInbound(stream)
        let frame = try #require(try channel.readInbound(as: Frame.self))
        #expect(frame.payload.readableBytes == 8192)
        // Only `reused` holds the storage now, unless the assembler kept it: a write must not copy it.
        var reused = stream
        stream = ByteBuffer()
        reused.clear()
        reused.writeInteger(UInt8(1))
        #expect(Self.address(of: reused) == storage, "the assembler kept the incoming buffer referenced")
        _ = try channel.finish()
    }

    /// Where a buffer's storage is: the same address after a write means the write did not copy it.
    static func address(of buffer: ByteBuffer) -> UInt {
        buffer.withVeryUnsafeBytes { UInt(bitPattern: $0.baseAddress) }
    }

    @Test(arguments: [
        ([0, 0, 0, 3], "shorter than a frame header"),
        ([0xFF, 0xFF, 0xFF, 0xFF], "exceeds the limit"),
        ([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x32], "the peer speaks TLS"),  // a TLS alert
        ([0x16, 0x03, 0x01, 0x02, 0x00], "the peer speaks TLS"),  // a TLS client hello
        ([0, 0, 0, 9, 77, 0, 0, 0, 0, 0, 0, 0, 0], "unknown frame kind 77"),
    ] as [([UInt8], String)])
    func malformedFramesCloseTheConnection(bytes: [UInt8], reason: String) throws {
        let channel = EmbeddedChannel(handler: FrameAssembler())
        let error = #expect(throws: WireError.self) { try channel.writeInbound(ByteBuffer(bytes: bytes)) }
        #expect(error?.reason.contains(reason) == true, "\(String(describing: error))")
        #expect(!channel.isActive)
        // Later bytes are dropped, not parsed.
        #expect(throws: Never.self) { try channel.writeInbound(Self.stream([Frame(kind: .request, requestID: 1, payload: ByteBuffer())])) }
        #expect(try channel.readInbound(as: Frame.self) == nil)
    }

    /// Nothing is allocated for an announced frame before its length is checked: a prefix just over the limit is
    /// refused with no payload buffer made.
    @Test func theLengthIsCheckedBeforeAnythingIsAllocated() throws {
        let channel = EmbeddedChannel(handler: FrameAssembler(frameByteCountMax: 100))
        #expect(throws: WireError.self) { try channel.writeInbound(ByteBuffer(bytes: [0, 0, 0, 101])) }
    }

    @Test func theSplitterPassesEveryByteInBoundedFlushedPieces() throws {
        let channel = EmbeddedChannel(handler: TLSWriteSplitter(pieceByteCount: 1000))
        let payload = ByteBuffer(bytes: (0..<4500).map { UInt8(truncatingIfNeeded: $0) })
        let written = channel.write(payload)
        channel.flush()
        var gathered = ByteBuffer()
        var pieces = 0
        while var piece = try channel.readOutbound(as: ByteBuffer.self) {
            #expect(piece.readableBytes <= 1000)
            pieces += 1
            gathered.writeBuffer(&piece)
        }
        #expect(pieces == 5)
        #expect(gathered == payload)
        try written.wait()
        _ = try channel.finish()
    }
}
