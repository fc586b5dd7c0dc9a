import MortarCore
import NIOCore
import Testing

@testable import MortarWire

/// The exact bytes of every request and reply encoding, written down once and never regenerated: a round trip
/// cannot notice a changed opcode, a reordered field or a widened integer, but a peer of another version would.
/// A new operation adds its sample to `Samples` and its bytes here; an existing line changes only with a new
/// protocol version in the handshake.
@Suite struct GoldenBytesTests {
    /// Hex of each sample request of `Samples.requests`, by opcode, encoded with `CodecTests.credentials`.
    static let requests: [Opcode: [String]] = [
        .lookup:
            ["01000003e80000006400000002000000040000001b0000002a00000000000000000000000006612066696c6500000000",
             "000000000000000000000001"],
        .attributes:
            ["02000003e80000006400000002000000040000001b0000002a0000000000000000000000000000000001000000000000",
             "0002"],
        .attributesOfOpen:
            ["03000003e80000006400000002000000040000001b0000002a000000000000000000000000000000abcd000000000000",
             "002a0000000000000007"],
        .setAttributes:
            ["04000003e80000006400000002000000040000001b0000002a0000000000000000000000000000000001000000000000",
             "000201000001a001000000050001000001000000000001000101000000000000000700000009"],
        .checkAccess:
            ["05000003e80000006400000002000000040000001b0000002a0000000000000000000000000000000001000000000000",
             "000200000006"],
        .create:
            ["06000003e80000006400000002000000040000001b0000002a00000000000000000000000002c3a90000000000000000",
             "000000000000000100000000000000010000000000000002000001800000000f"],
        .open:
            ["07000003e80000006400000002000000040000001b0000002a0000000000000000000000000000000001000000000000",
             "000200000041"],
        .release:
            ["08000003e80000006400000002000000040000001b0000002a000000000000000000000000000000abcd000000000000",
             "002a0000000000000007"],
        .read:
            ["09000003e80000006400000002000000040000001b0000002a000000000000000000000000000000abcd000000000000",
             "002a0000000000000007000000020000000000001000"],
        .write:
            ["0a000003e80000006400000002000000040000001b0000002a000000000000000000000000000000abcd000000000000",
             "002a0000000000000007000000000000000c000000050102030405"],
        .truncate:
            ["0b000003e80000006400000002000000040000001b0000002a000000000000000000000000000000abcd000000000000",
             "002a00000000000000070000000000000000"],
        .synchronize:
            ["0c000003e80000006400000002000000040000001b0000002a000000000000000000000000000000abcd000000000000",
             "002a000000000000000701"],
        .flush:
            ["0d000003e80000006400000002000000040000001b0000002a000000000000000000000000000000abcd000000000000",
             "002a0000000000000007"],
        .allocate:
            ["0e000003e80000006400000002000000040000001b0000002a000000000000000000000000000000abcd000000000000",
             "002a00000000000000070000000000000000000000000010000001"],
        .discard:
            ["0f000003e80000006400000002000000040000001b0000002a000000000000000000000000000000abcd000000000000",
             "002a000000000000000700000000000010000000000000002000"],
        .zeroFill:
            ["10000003e80000006400000002000000040000001b0000002a000000000000000000000000000000abcd000000000000",
             "002a000000000000000700000000000000010000000000000002"],
        .seek:
            ["11000003e80000006400000002000000040000001b0000002a000000000000000000000000000000abcd000000000000",
             "002a0000000000000007000000000000000504"],
        .lock:
            ["12000003e80000006400000002000000040000001b0000002a000000000000000000000000000000abcd000000000000",
             "002a000000000000000701000000000000000a00000000000000000000000000000063000004d201"],
        .testLock:
            ["13000003e80000006400000002000000040000001b0000002a000000000000000000000000000000abcd000000000000",
             "002a000000000000000701000000000000000a00000000000000000000000000000063000004d2"],
        .unlink:
            ["14000003e80000006400000002000000040000001b0000002a0000000000000000000000000178000000000000000000",
             "00000000000001"],
        .makeDirectory:
            ["15000003e80000006400000002000000040000001b0000002a0000000000000000000000000164000000000000000000",
             "0000000000000100000000000000010000000000000002000001ed"],
        .removeDirectory:
            ["16000003e80000006400000002000000040000001b0000002a0000000000000000000000000164000000000000000000",
             "00000000000001"],
        .readDirectory:
            ["17000003e80000006400000002000000040000001b0000002a0000000000000000000000000000000001000000000000",
             "0002000000000000004d00000064"],
        .rename:
            ["18000003e80000006400000002000000040000001b0000002a0000000000000000000000000161000000000000000000",
             "0000000000000100000001620000000000000001000000000000000200000001"],
        .link:
            ["19000003e80000006400000002000000040000001b0000002a0000000000000000000000000000000001000000000000",
             "0002000000046861726400000000000000000000000000000001"],
        .makeSymbolicLink:
            ["1a000003e80000006400000002000000040000001b0000002a0000000000000000000000000173000000000000000000",
             "0000000000000100000000000000010000000000000002000000092e2e2f746172676574"],
        .readSymbolicLink:
            ["1b000003e80000006400000002000000040000001b0000002a0000000000000000000000000000000001000000000000",
             "0002"],
        .makeNode:
            ["1c000003e80000006400000002000000040000001b0000002a0000000000000000000000000474747931000000000000",
             "00000000000000000001000000000000000100000000000000020600000190", "0000000000000401"],
        .fileSystemStatistics:
            ["1d000003e80000006400000002000000040000001b0000002a000000000000000000"],
        .extendedAttribute:
            ["1e000003e80000006400000002000000040000001b0000002a00000000000000000000000006757365722e6b00000000",
             "000000010000000000000002"],
        .setExtendedAttribute:
            ["1f000003e80000006400000002000000040000001b0000002a00000000000000000000000006757365722e6b00000003",
             "0001ff0100000000000000010000000000000002"],
        .extendedAttributeNames:
            ["20000003e80000006400000002000000040000001b0000002a0000000000000000000000000000000001000000000000",
             "0002"],
        .removeExtendedAttribute:
            ["21000003e80000006400000002000000040000001b0000002a00000000000000000000000006757365722e6b00000000",
             "000000010000000000000002"],
        .control:
            ["22000003e80000006400000002000000040000001b0000002a00000000000000000006"],
        .openAndRead:
            ["23000003e80000006400000002000000040000001b0000002a0000000000000000000000000000000001000000000000",
             "00020000080100010000"],
        .lookupAndRead:
            ["24000003e80000006400000002000000040000001b0000002a00000000000000000000000001660000000000000000",
             "00000000000000010000000100001000"],
        .grantLocalRead:
            ["25000003e80000006400000002000000040000001b0000002a000000000000000000000000000000abcd000000000000",
             "002a0000000000000007"],
    ]

    /// Hex of each sample control message of `Samples.controls`, in order (opcode 34, then its ``ControlKind``).
    static let controls: [[String]] = [
        ["22000003e80000006400000002000000040000001b0000002a0000000000000000000100000000000000010000000000",
         "0000020200"],
        ["22000003e80000006400000002000000040000001b0000002a0000000000000000000100000000000000010000000000",
         "0000020101"],
        ["22000003e80000006400000002000000040000001b0000002a0000000000000000000100000000000000010000000000",
         "0000020002000000020000000000000000000000000000100000000000000020000000000000002001"],
        ["22000003e80000006400000002000000040000001b0000002a0000000000000000000202010200000004000000000000",
         "000001000000000000000200000000000000040000000000000009010000000000000001000000000000000202000000",
         "000000000100000000000000020300000000000000000000000000000001"],
        ["22000003e80000006400000002000000040000001b0000002a00000000000000000003010000000000"],
        ["22000003e80000006400000002000000040000001b0000002a00000000000000000004"],
        ["22000003e80000006400000002000000040000001b0000002a0000000000000000000500000003000000000000000702",
         "0300000001010001020000"],
        ["22000003e80000006400000002000000040000001b0000002a00000000000000000006"],
        ["22000003e80000006400000002000000040000001b0000002a00000000000000000007"],
    ]

    /// Hex of each sample reply of `Samples.replies`, in order.
    static let replies: [[String]] = [
        ["00"],
        ["010000000000000001000000000000000201000001a40000000200000001000000020000000000000003000000000000",
         "0008000010000000000000000000000000000000000100000002000000000000000300000000fffffffffffffffc0000",
         "0005"],
        ["02000000000000abcd000000000000002a00000000000000070000000000000001000000000000000201000001a40000",
         "000200000001000000020000000000000003000000000000000800001000000000000000000000000000000000010000",
         "0002000000000000000300000000fffffffffffffffc00000005"],
        ["03000000000000abcd000000000000002a0000000000000007"],
        ["04000003e8aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"],
        ["05ffffffffffffffff"],
        ["060101000000000000000a00000000000000000000000000000063000004d2"],
        ["0600"],
        ["0700000001000000016e0000000000000001000000000000000201000001a40000000200000001000000020000000000",
         "0000030000000000000008000010000000000000000000000000000000000100000002000000000000000300000000ff",
         "fffffffffffffc00000005010000000000000005"],
        ["070000000000"],
        ["0800000006746172676574"],
        ["0900000000000010000000000000001000000000000000000a0000000000000005000000000000000400000000000000",
         "64000000000000003200000000000000310000000000000000000000000000000000000000000000ff"],
        ["0a00000003090807"],
        ["0b0000000200000006757365722e6100000006757365722e62"],
        ["0c000000000000000c00000000000010000101000000000000000300000000000000010000000000010000"],
        ["0d000000000000abcd000000000000002a000000000000000700000003010203"],
        ["0e0000000000000001000000000000000201000001a40000000200000001000000020000000000000003000000000000",
         "0008000010000000000000000000000000000000000100000002000000000000000300000000fffffffffffffffc0000",
         "000501000000000000abcd000000000000002a0000000000000007000000020405"],
        ["0e0000000000000001000000000000000201000001a40000000200000001000000020000000000000003000000000000",
         "0008000010000000000000000000000000000000000100000002000000000000000300000000fffffffffffffffc0000",
         "000500"],
        ["0f00112233445566778899aabbccddeeff"],
    ]

    static let errorReply = "0000001c00000010627269636b2062312069732066756c6c"

    @Test func everyOpcodeHasASampleAndGoldenBytes() {
        let sampled = Set(Samples.requests.map(\.opcode))
        for opcode in Opcode.allCases {
            #expect(sampled.contains(opcode), "no sample request for \(opcode)")
            #expect(Self.requests[opcode] != nil, "no golden bytes for \(opcode)")
        }
        #expect(Samples.requests.count == Opcode.allCases.count, "one sample per operation")
    }

    @Test(arguments: Samples.requests.indices)
    func requestBytes(index: Int) throws {
        let request = Samples.requests[index]
        var buffer = ByteBuffer()
        request.encode(credentials: CodecTests.credentials, into: &buffer)
        let golden = try #require(Self.requests[request.opcode]).joined()
        #expect(hex(buffer) == golden, "encoding of \(request.opcode) changed")
        let decoded = try Request.decode(try bytes(golden))
        #expect(decoded.0.opcode == request.opcode)
    }

    @Test(arguments: Samples.controls.indices)
    func controlBytes(index: Int) throws {
        var buffer = ByteBuffer()
        Request.control(Samples.controls[index]).encode(credentials: CodecTests.credentials, into: &buffer)
        let golden = Self.controls[index].joined()
        #expect(hex(buffer) == golden, "encoding of control message \(index) changed")
        guard case (.control(let decoded), _) = try Request.decode(try bytes(golden)) else {
            Issue.record("golden bytes of control message \(index) decode as another request")
            return
        }
        #expect(decoded == Samples.controls[index])
    }

    @Test func everyControlMessageHasGoldenBytes() {
        #expect(Self.controls.count == Samples.controls.count)
    }

    @Test func everyReplyShapeHasGoldenBytes() {
        #expect(Set(Samples.replies.map(\.tag)) == Set(Reply.Tag.allCases))
        #expect(Self.replies.count == Samples.replies.count)
    }

    @Test(arguments: Samples.replies.indices)
    func replyBytes(index: Int) throws {
        var buffer = ByteBuffer()
        Samples.replies[index].encode(into: &buffer)
        let golden = Self.replies[index].joined()
        #expect(hex(buffer) == golden, "encoding of reply \(Samples.replies[index].tag) changed")
        #expect(try Reply.decode(try bytes(golden)).tag == Samples.replies[index].tag)
    }

    @Test func errorReplyBytes() throws {
        var buffer = ByteBuffer()
        ErrorReply.encode(FileSystemError(.noSpace, "brick b1 is full"), into: &buffer)
        #expect(hex(buffer) == Self.errorReply)
    }

    private func hex(_ buffer: ByteBuffer) -> String {
        let digits = Array("0123456789abcdef")
        return String(buffer.readableBytesView.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] })
    }

    /// The bytes a golden hex string stands for; a malformed string (odd length, not lowercase hex) fails.
    private func bytes(_ hex: String) throws -> ByteBuffer {
        let digits = Array(hex.utf8)
        let isHexDigit = { (digit: UInt8) in (0x30...0x39).contains(digit) || (0x61...0x66).contains(digit) }
        try #require(digits.count % 2 == 0 && digits.allSatisfy(isHexDigit), "malformed golden hex")
        let values = digits.map { $0 <= 0x39 ? $0 - 0x30 : $0 - 0x61 + 10 }
        return ByteBuffer(bytes: stride(from: 0, to: values.count, by: 2).map { values[$0] << 4 | values[$0 + 1] })
    }
}
