import NIOCore
import NIOSSL

/// Stands where a server's TLS handler goes and puts the real one there when the client's first bytes arrive, so
/// a connection that never speaks (an idle flood, a port scan) costs no TLS session: each one is tens of
/// kilobytes that the allocator keeps after it is freed. Whatever arrives is then passed on to the TLS handler,
/// which reads the client's hello from it as if it had been there all along.
final class DeferredTLSServerHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let makeHandler: () -> NIOSSLServerHandler
    private var installed = false

    init(_ makeHandler: @escaping () -> NIOSSLServerHandler) {
        self.makeHandler = makeHandler
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !installed else {
            context.fireChannelRead(data)
            return
        }
        installed = true
        do {
            try context.pipeline.syncOperations.addHandler(makeHandler(), position: .after(self))
        } catch {
            // Only when the pipeline is gone (the channel closed meanwhile): nothing left to serve.
            context.close(promise: nil)
            return
        }
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}

@available(*, unavailable)
extension DeferredTLSServerHandler: Sendable {}
