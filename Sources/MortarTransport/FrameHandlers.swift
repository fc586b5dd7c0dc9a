import MortarCore
import MortarWire
import NIOCore

/// Cuts the inbound byte stream into ``Frame``s. A malformed or oversized frame is an error that closes the
/// connection; nothing is allocated for a frame's payload before its length is known to be within bounds.
public struct FrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = Frame
    private let parser: FrameParser

    public init(frameByteCountMax: Int = Limits.frameByteCountMax) {
        parser = FrameParser(frameByteCountMax: frameByteCountMax)
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let frame = try parser.nextFrame(from: &buffer) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(frame))
        return .continue
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws
        -> DecodingState
    {
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }
}

/// Writes a ``Frame`` as a small header buffer followed by the payload buffer, so that large payloads go to the
/// socket without being copied into a new buffer (NIO gathers both into one `writev`).
public final class FrameEncoder: ChannelOutboundHandler, Sendable {
    public typealias OutboundIn = Frame
    public typealias OutboundOut = ByteBuffer

    public init() {}

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let frame = unwrapOutboundIn(data)
        let length = frame.length
        guard length <= Limits.frameByteCountMax else {
            promise?.fail(FileSystemError.invalidArgument("frame of \(length) bytes exceeds the limit"))
            return
        }
        var header = context.channel.allocator.buffer(capacity: Frame.headerByteCount + frame.payload.readableBytes)
        header.writeInteger(UInt32(length))
        header.writeInteger(frame.kind.rawValue)
        header.writeInteger(frame.requestID)
        // Small frames are gathered into the header buffer (one buffer, one iovec); bulk data goes as its own
        // buffer, uncopied.
        header.writeImmutableBuffer(frame.payload)
        guard let trailer = frame.trailer, trailer.readableBytes > 0 else {
            context.write(wrapOutboundOut(header), promise: promise)
            return
        }
        context.write(wrapOutboundOut(header), promise: nil)
        context.write(wrapOutboundOut(trailer), promise: promise)
    }
}
