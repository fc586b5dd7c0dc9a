import MortarCore
import MortarTesting
import NIOCore
import Testing

@testable import MortarWire

@Suite struct FrameParserTests {
    @Test func framesSplitAcrossReadsAreReassembled() throws {
        var stream = ByteBuffer()
        for index in 0..<10 {
            Frame(kind: .request, requestID: UInt64(index), payload: ByteBuffer(repeating: UInt8(index), count: index * 100))
                .write(to: &stream)
        }
        let parser = FrameParser()
        var pending = ByteBuffer()
        var frames: [Frame] = []
        while stream.readableBytes > 0 {
            var piece = stream.readSlice(length: min(37, stream.readableBytes))!
            pending.writeBuffer(&piece)
            while let frame = try parser.nextFrame(from: &pending) { frames.append(frame) }
        }
        #expect(frames.map(\.requestID) == Array(0..<10))
        #expect(frames.map(\.payload.readableBytes) == (0..<10).map { $0 * 100 })
    }

    @Test func oversizedLengthIsRejectedAtOnce() {
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt32(Limits.frameByteCountMax + 1))
        #expect(throws: WireError.self) { try FrameParser().nextFrame(from: &buffer) }
    }

    @Test func lengthShorterThanHeaderIsRejected() {
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt32(3))
        buffer.writeBytes([1, 2, 3])
        #expect(throws: WireError.self) { try FrameParser().nextFrame(from: &buffer) }
    }

    /// Random bytes and mutations of valid frames: the parser and the decoders either produce a value or throw
    /// a WireError; they never trap and never allocate beyond the frame limit (the length check comes first).
    @Test(arguments: [1, 2, 3, 4, 5] as [UInt64])
    func fuzzRandomAndMutatedInput(seed: UInt64) {
        var generator = SplitMix64(seed: seed)
        let parser = FrameParser()
        var valid = ByteBuffer()
        for request in Samples.allRequests {
            var payload = ByteBuffer()
            request.encode(credentials: CodecTests.credentials, into: &payload)
            Frame(kind: .request, requestID: 1, payload: payload).write(to: &valid)
        }
        let validBytes = Array(valid.readableBytesView)
        for round in 0..<2000 {
            var bytes: [UInt8]
            if round % 2 == 0 {
                bytes = (0..<Int.random(in: 0..<256, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            } else {
                bytes = validBytes
                for _ in 0..<Int.random(in: 1...8, using: &generator) {
                    let position = Int.random(in: 0..<bytes.count, using: &generator)
                    bytes[position] = UInt8.random(in: 0...255, using: &generator)
                }
            }
            var buffer = ByteBuffer(bytes: bytes)
            while true {
                guard let frame = try? parser.nextFrame(from: &buffer) else { break }
                _ = try? Request.decode(frame.payload)
                _ = try? Reply.decode(frame.payload)
                _ = try? Handshake.Hello.decode(frame.payload)
                #expect(frame.payload.readableBytes <= Limits.frameByteCountMax)
            }
        }
    }
}
