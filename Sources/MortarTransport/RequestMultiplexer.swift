import MortarCore
import MortarWire
import NIOCore

/// A call waiting for its reply: the frame to send and the promise the reply completes.
struct PendingCall {
    var kind: FrameKind
    var payload: ByteBuffer
    var trailer: ByteBuffer?
    var promise: EventLoopPromise<Frame>
}

/// Gives each outgoing call a request id and completes its promise when the reply with that id arrives, in any
/// order. Runs on the channel's event loop only, so its table needs no lock.
final class RequestMultiplexer: ChannelDuplexHandler {
    typealias InboundIn = Frame
    typealias OutboundIn = PendingCall
    typealias OutboundOut = Frame

    private var pending: [UInt64: EventLoopPromise<Frame>] = [:]
    private var nextRequestID: UInt64 = 1
    private var closedError: FileSystemError?
    private let peerDescription: String

    init(peerDescription: String) {
        self.peerDescription = peerDescription
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let call = unwrapOutboundIn(data)
        if let closedError {
            call.promise.fail(closedError)
            promise?.fail(closedError)
            return
        }
        let requestID = nextRequestID
        nextRequestID &+= 1
        pending[requestID] = call.promise
        let frame = Frame(kind: call.kind, requestID: requestID, payload: call.payload, trailer: call.trailer)
        context.write(wrapOutboundOut(frame), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        guard let promise = pending.removeValue(forKey: frame.requestID) else {
            let error = FileSystemError.protocolError(
                "\(peerDescription) sent a reply for unknown request \(frame.requestID)")
            failAll(error)
            context.close(promise: nil)
            return
        }
        promise.succeed(frame)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failAll(FileSystemError.notConnected("connection to brick \(peerDescription) failed: \(error)"))
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(FileSystemError.notConnected("connection to brick \(peerDescription) was lost"))
        context.fireChannelInactive()
    }

    private func failAll(_ error: FileSystemError) {
        if closedError == nil { closedError = error }
        let waiting = pending
        pending.removeAll()
        for promise in waiting.values { promise.fail(error) }
    }
}
