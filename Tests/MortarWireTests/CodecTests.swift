import MortarCore
import NIOCore
import Testing

@testable import MortarWire

@Suite struct CodecTests {
    static let credentials = WireCredentials(userID: 1000, groupID: 100, supplementaryGroupIDs: [4, 27], processID: 42)

    @Test func everyOpcodeIsDistinct() {
        let opcodes = Samples.requests.map(\.opcode)
        #expect(Set(opcodes).count == opcodes.count)
        #expect(opcodes.count == Opcode.allCases.count, "one sample per operation of the table")
    }

    @Test(arguments: Samples.allRequests.indices)
    func requestRoundTrip(index: Int) throws {
        let request = Samples.allRequests[index]
        var buffer = ByteBuffer()
        request.encode(credentials: Self.credentials, into: &buffer)
        let (decoded, credentials) = try Request.decode(buffer)
        #expect(credentials == Self.credentials)
        var again = ByteBuffer()
        decoded.encode(credentials: credentials, into: &again)
        #expect(again == buffer, "request \(request.opcode) must survive a round trip byte for byte")
    }

    @Test(arguments: Samples.replies.indices)
    func replyRoundTrip(index: Int) throws {
        var buffer = ByteBuffer()
        Samples.replies[index].encode(into: &buffer)
        let decoded = try Reply.decode(buffer)
        var again = ByteBuffer()
        decoded.encode(into: &again)
        #expect(again == buffer)
    }

    @Test func errorReplyCarriesErrnoAndMessage() throws {
        var buffer = ByteBuffer()
        ErrorReply.encode(FileSystemError(.noSpace, "brick b1 is full"), into: &buffer)
        let error = try ErrorReply.decode(buffer)
        #expect(error.code == .noSpace)
        #expect(error.message == "brick b1 is full")
    }

    @Test func truncatedRequestIsAnErrorNotACrash() throws {
        for request in Samples.allRequests {
            var buffer = ByteBuffer()
            request.encode(credentials: Self.credentials, into: &buffer)
            for cut in stride(from: 0, to: buffer.readableBytes - 1, by: 3) {
                let truncated = buffer.getSlice(at: 0, length: cut)!
                #expect(throws: WireError.self) { try Request.decode(truncated) }
            }
        }
    }

    @Test func trailingBytesAreRejected() {
        var buffer = ByteBuffer()
        Request.flush(Samples.file).encode(credentials: Self.credentials, into: &buffer)
        buffer.writeInteger(UInt8(0))
        #expect(throws: WireError.self) { try Request.decode(buffer) }
    }

    @Test func oversizedWriteIsRejectedBeforeAllocation() {
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt8(10))  // write
        buffer.writeInteger(UInt32(0))
        buffer.writeInteger(UInt32(0))
        buffer.writeInteger(UInt32(0))
        buffer.writeInteger(Int32(0))
        buffer.writeInteger(UInt64(1))
        buffer.writeInteger(UInt64(1))
        buffer.writeInteger(UInt64(1))
        buffer.writeInteger(UInt64(0))
        buffer.writeInteger(UInt32.max)  // claims 4 GiB of data
        #expect(throws: WireError.self) { try Request.decode(buffer) }
    }

    @Test func handshakeRejectsAnotherVersionNamingBoth() throws {
        let hello = Handshake.Hello(protocolVersion: Handshake.protocolVersion + 1, clientName: "future")
        var buffer = ByteBuffer()
        hello.encode(into: &buffer)
        let decoded = try Handshake.Hello.decode(buffer)
        let error = #expect(throws: FileSystemError.self) { try Handshake.check(decoded) }
        #expect(error?.message.contains("version \(Handshake.protocolVersion)") == true)
        #expect(error?.message.contains("version \(Handshake.protocolVersion + 1)") == true)
        var reply = ByteBuffer()
        Handshake.encodeReject(error!, into: &reply)
        #expect(throws: FileSystemError.self) { try Handshake.decodeReply(reply) }
    }

    @Test func helloWithoutMagicIsRejected() {
        let buffer = ByteBuffer(string: "GET / HTTP/1.1\r\n\r\n")
        #expect(throws: WireError.self) { try Handshake.Hello.decode(buffer) }
    }
}
