import MortarCore
import NIOCore

/// What a frame carries. One byte on the wire, after the length prefix.
public enum FrameKind: UInt8, Sendable, Hashable {
    /// The client's first frame: protocol version and what it wants to reach.
    case hello = 1
    /// The server's answer to `hello`: accepted, or rejected with an error.
    case helloReply = 2
    /// An operation request.
    case request = 3
    /// A successful reply to the request with the same id.
    case reply = 4
    /// A failed reply: errno and message.
    case errorReply = 5
}

/// One unit of the wire protocol:
///
/// ```
/// +-----------------+------------+-------------------+--------------------+
/// | length: UInt32  | kind: UInt8| requestID: UInt64 | payload            |
/// +-----------------+------------+-------------------+--------------------+
/// ```
///
/// `length` counts every byte after itself (kind + request id + payload) and is bounded by
/// `Limits.frameByteCountMax`; a peer that sends more is cut off before anything is allocated for it. Request ids
/// let many requests share one connection and let replies come back in any order.
public struct Frame: Sendable {
    public var kind: FrameKind
    public var requestID: UInt64
    public var payload: ByteBuffer
    /// Bulk data that follows the payload on the wire (a write's data, a read's reply). Kept as a separate
    /// buffer when sending, so that a megabyte is handed to the socket without being copied into the frame; a
    /// received frame has everything in `payload`.
    public var trailer: ByteBuffer?

    public init(kind: FrameKind, requestID: UInt64, payload: ByteBuffer, trailer: ByteBuffer? = nil) {
        self.kind = kind
        self.requestID = requestID
        self.payload = payload
        self.trailer = trailer
    }

    /// Bytes after the length prefix.
    public var length: Int { 1 + 8 + payload.readableBytes + (trailer?.readableBytes ?? 0) }

    /// Bytes before the payload: length prefix, kind and request id.
    public static let headerByteCount = 4 + 1 + 8

    /// Writes the whole frame (header and payload) to `buffer`.
    public func write(to buffer: inout ByteBuffer) {
        precondition(length <= Limits.frameByteCountMax, "frame of \(length) bytes exceeds the limit")
        buffer.writeInteger(UInt32(length))
        buffer.writeInteger(kind.rawValue)
        buffer.writeInteger(requestID)
        var payload = payload
        buffer.writeBuffer(&payload)
        if var trailer { buffer.writeBuffer(&trailer) }
    }
}

/// Splits a byte stream into frames. Pure: feed it bytes, get frames or a ``WireError``.
public struct FrameParser: Sendable {
    public let frameByteCountMax: Int

    public init(frameByteCountMax: Int = Limits.frameByteCountMax) {
        self.frameByteCountMax = frameByteCountMax
    }

    /// Reads the next whole frame from `buffer`, or returns nil (consuming nothing) when more bytes are needed.
    /// Throws on a length that is too small or over the limit, and on an unknown frame kind.
    public func nextFrame(from buffer: inout ByteBuffer) throws(WireError) -> Frame? {
        guard let prefix = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return nil }
        let length = try checkedLength(prefix)
        guard buffer.readableBytes >= 4 + length else { return nil }
        let kindByte = buffer.getInteger(at: buffer.readerIndex + 4, as: UInt8.self) ?? 0
        guard let kind = FrameKind(rawValue: kindByte) else { throw WireError("unknown frame kind \(kindByte)") }
        buffer.moveReaderIndex(forwardBy: 5)
        let requestID = buffer.readInteger(as: UInt64.self) ?? 0
        let payload = buffer.readSlice(length: length - 9) ?? ByteBuffer()
        return Frame(kind: kind, requestID: requestID, payload: payload)
    }

    /// The byte count a length prefix announces (everything after the prefix), once it is known to be within
    /// bounds: at least a header, at most ``frameByteCountMax``.
    public func checkedLength(_ prefix: UInt32) throws(WireError) -> Int {
        guard prefix >= 9 else { throw WireError("frame length \(prefix) is shorter than a frame header") }
        guard prefix <= frameByteCountMax else {
            // A TLS record starts with its type (21 alert, 22 handshake) and major version 3: a peer that speaks
            // TLS to a connection that does not. Said so, rather than as a frame of 350 MB.
            if prefix >> 24 == 21 || prefix >> 24 == 22, (prefix >> 16) & 0xFF == 3 {
                throw WireError("the peer speaks TLS and this connection does not (no TLS credentials here?)")
            }
            throw WireError("frame of \(prefix) bytes exceeds the limit of \(frameByteCountMax)")
        }
        return Int(prefix)
    }
}

/// A malformed frame or message. The connection that sent it is closed with this reason logged.
public struct WireError: Error, Hashable, Sendable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}
