import MortarCore
import NIOCore

/// The first exchange on every brick connection. The client names the protocol version it speaks; the server
/// accepts or rejects with a reason, so a mismatch is a clear error rather than garbled replies.
public enum Handshake {
    /// The version this build speaks. Bump it on any incompatible change to frames or messages.
    /// 3: `makeNode` carries the device number of a device node.
    public static let protocolVersion: UInt16 = 3
    /// Eight bytes that open every hello, so that a stray client (an HTTP request, a port scanner) is told apart
    /// from a Mortar peer at once.
    static let magic: [UInt8] = Array("MORTAR\r\n".utf8)

    public struct Hello: Sendable, Hashable {
        public var protocolVersion: UInt16
        /// Who is connecting, for the brick's logs.
        public var clientName: String

        public init(protocolVersion: UInt16 = Handshake.protocolVersion, clientName: String) {
            self.protocolVersion = protocolVersion
            self.clientName = clientName
        }

        public func encode(into buffer: inout ByteBuffer) {
            buffer.writeBytes(Handshake.magic)
            buffer.writeInteger(protocolVersion)
            buffer.writeWireString(clientName)
        }

        public static func decode(_ payload: ByteBuffer) throws(WireError) -> Hello {
            var r = WireReader(payload)
            guard r.buffer.readBytes(length: Handshake.magic.count) == Handshake.magic else {
                throw WireError("not a Mortar client: the hello does not start with the protocol's magic bytes")
            }
            let version = try r.integer(UInt16.self, "protocol version")
            let name = try r.string("client name", byteCountMax: 256)
            try r.expectEnd("hello")
            return Hello(protocolVersion: version, clientName: name)
        }
    }

    /// The server's answer: accepted with its version, or rejected with the reason.
    public static func encodeAccept(into buffer: inout ByteBuffer) {
        buffer.writeInteger(0 as UInt8)
        buffer.writeInteger(protocolVersion)
    }

    public static func encodeReject(_ error: FileSystemError, into buffer: inout ByteBuffer) {
        buffer.writeInteger(1 as UInt8)
        ErrorReply.encode(error, into: &buffer)
    }

    /// Checks a hello against this build; the error names both versions.
    public static func check(_ hello: Hello) throws(FileSystemError) {
        guard hello.protocolVersion == protocolVersion else {
            throw FileSystemError(
                .protocolError,
                "protocol version mismatch: this brick speaks version \(protocolVersion), "
                    + "client '\(hello.clientName)' speaks version \(hello.protocolVersion)")
        }
    }

    /// Decodes the server's answer; throws the server's rejection as a ``FileSystemError``.
    public static func decodeReply(_ payload: ByteBuffer) throws -> UInt16 {
        var r = WireReader(payload)
        switch try r.integer(UInt8.self, "hello status") {
        case 0: return try r.integer(UInt16.self, "server version")
        case 1: throw try ErrorReply.decode(r.buffer)
        case let other: throw WireError("invalid hello status \(other)")
        }
    }
}
