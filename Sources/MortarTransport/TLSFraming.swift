import MortarCore
import MortarWire
import NIOCore

/// Cuts the decrypted byte stream of a TLS connection into ``Frame``s, copying every byte exactly once: each frame
/// is gathered into a buffer of its own, allocated at its exact size once the length prefix is known.
///
/// Why not ``FrameDecoder`` behind the TLS handler: the TLS handler decrypts into one buffer that it reuses for
/// every read. A frame sliced out of that buffer keeps it referenced, so the TLS handler's next read copied the
/// whole buffer (its capacity, a megabyte or more after a large read) before reusing it, and the byte-to-message
/// handler copied again each time it appended to a partial frame. Measured on a 1 MiB sequential read over TLS,
/// those copies took two and a half times the CPU of the decryption itself. Here the incoming buffer is never
/// retained past `channelRead`, so the TLS handler reuses its buffer in place.
///
/// Invariants: at most one frame is being gathered; its buffer never holds more than `4 + frameByteCountMax`
/// bytes, and nothing is allocated for a frame before its length prefix has been checked. After a malformed
/// frame the connection is closed and further bytes are dropped.
public final class FrameAssembler: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = Frame

    private let parser: FrameParser
    /// The bytes of the frame being gathered, length prefix included; empty between frames.
    private var partial = ByteBuffer()
    /// `4 + length` of the frame being gathered, once its prefix has arrived.
    private var expected: Int?
    private var failed = false

    public init(frameByteCountMax: Int = Limits.frameByteCountMax) {
        parser = FrameParser(frameByteCountMax: frameByteCountMax)
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        var input = unwrapInboundIn(data)
        do {
            while let frame = try gather(from: &input, allocator: context.channel.allocator) {
                context.fireChannelRead(wrapInboundOut(frame))
                // A handler downstream may have closed the channel (and failed us meanwhile).
                if failed { return }
            }
        } catch {
            failed = true
            partial = ByteBuffer()
            context.fireErrorCaught(error)
            context.close(promise: nil)
        }
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        partial = ByteBuffer()
        expected = nil
    }

    /// Moves bytes from `input` into the frame being gathered; returns the frame once it is whole (the caller
    /// calls again for the bytes after it), nil once `input` is used up.
    private func gather(from input: inout ByteBuffer, allocator: ByteBufferAllocator) throws(WireError) -> Frame? {
        while input.readableBytes > 0 {
            if expected == nil {
                if partial.readableBytes == 0, let prefix = input.getInteger(at: input.readerIndex, as: UInt32.self) {
                    // The usual case, a whole prefix at hand: one buffer of the frame's exact size.
                    let length = try parser.checkedLength(prefix)
                    partial = allocator.buffer(capacity: 4 + length)
                    expected = 4 + length
                    continue
                }
                if partial.capacity == 0 { partial = allocator.buffer(capacity: 4) }
                copy(min(4 - partial.readableBytes, input.readableBytes), from: &input)
                guard partial.readableBytes == 4, let prefix = partial.getInteger(at: partial.readerIndex, as: UInt32.self)
                else { return nil }
                let length = try parser.checkedLength(prefix)
                expected = 4 + length
                partial.reserveCapacity(minimumWritableBytes: length)
            }
            guard let total = expected else { continue }
            copy(min(total - partial.readableBytes, input.readableBytes), from: &input)
            guard partial.readableBytes == total else { return nil }
            let frame = try parser.nextFrame(from: &partial)
            partial = ByteBuffer()
            expected = nil
            guard let frame else { throw WireError("a whole frame of \(total) bytes did not parse") }
            return frame
        }
        return nil
    }

    private func copy(_ count: Int, from input: inout ByteBuffer) {
        guard count > 0, var piece = input.readSlice(length: count) else { return }
        partial.writeBuffer(&piece)
    }
}

@available(*, unavailable)
extension FrameAssembler: Sendable {}

/// Hands a large write to the TLS handler in pieces, each flushed on its own, so that encryption of one piece
/// overlaps the socket carrying the one before and the peer decrypting it. The TLS handler encrypts everything
/// buffered before a flush and only then writes to the socket: a 1 MiB reply was encrypted whole before its
/// first byte left, and decrypted whole after its last arrived, one after the other on a queue-depth-1 reader.
///
/// Flushing early is always allowed; a write's promise completes with its last piece.
public final class TLSWriteSplitter: ChannelOutboundHandler, RemovableChannelHandler, Sendable {
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private let pieceByteCount: Int

    public init(pieceByteCount: Int = Limits.tlsWritePieceByteCount) {
        precondition(pieceByteCount > 0, "a piece holds at least a byte")
        self.pieceByteCount = pieceByteCount
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        var buffer = unwrapOutboundIn(data)
        while buffer.readableBytes > pieceByteCount, let piece = buffer.readSlice(length: pieceByteCount) {
            context.write(wrapOutboundOut(piece), promise: nil)
            context.flush()
        }
        context.write(wrapOutboundOut(buffer), promise: promise)
    }
}
