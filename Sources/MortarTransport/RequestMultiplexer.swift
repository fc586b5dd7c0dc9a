import MortarCore
import MortarWire
import NIOCore

/// A call waiting for its reply: the frame to send and the promise the reply completes.
struct PendingCall {
    var kind: FrameKind
    var payload: ByteBuffer
    var trailer: ByteBuffer?
    var promise: EventLoopPromise<Frame>
    /// Whether the reply may take arbitrarily long (a blocking lock waits for another client); such calls are
    /// exempt from the request timeout.
    var waitsIndefinitely = false
}

/// Gives each outgoing call a request id and completes its promise when the reply with that id arrives, in any
/// order. Runs on the channel's event loop only, so its table needs no lock.
final class RequestMultiplexer: ChannelDuplexHandler {
    typealias InboundIn = Frame
    typealias OutboundIn = PendingCall
    typealias OutboundOut = Frame

    private struct Waiting {
        var promise: EventLoopPromise<Frame>
        var deadline: NIODeadline
    }

    private var pending: [UInt64: Waiting] = [:]
    private var nextRequestID: UInt64 = 1
    private var closedError: FileSystemError?
    private let peerDescription: String
    private let requestTimeout: TimeAmount
    private var sweep: RepeatedTask?

    /// - Parameter requestTimeout: how long a reply may take before the connection is declared dead: every call
    ///   on it fails with ETIMEDOUT and it is closed, so a brick that hangs (stopped, wedged disk) costs callers
    ///   a bounded wait rather than forever. The next call reconnects.
    init(peerDescription: String, requestTimeout: TimeAmount) {
        self.peerDescription = peerDescription
        self.requestTimeout = requestTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let interval = TimeAmount.nanoseconds(max(requestTimeout.nanoseconds / 4, 10_000_000))
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        sweep = context.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            let (handler, context) = loopBound.value
            handler.failIfOverdue(context: context)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        sweep?.cancel()
        sweep = nil
    }

    private func failIfOverdue(context: ChannelHandlerContext) {
        let now = NIODeadline.now()
        guard pending.values.contains(where: { $0.deadline < now }) else { return }
        let seconds = Double(requestTimeout.nanoseconds) / 1e9
        failAll(FileSystemError(.timedOut, "brick \(peerDescription) did not answer within \(seconds) s"))
        context.close(promise: nil)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let call = unwrapOutboundIn(data)
        if let closedError {
            // This call was never sent: ENOTCONN, whatever ended the connection (a timeout, say), so the protocol
            // client sends an idempotent request again on a new connection. (A call that reaches the handler while
            // the connection is closing; failing it with the timeout of the calls that were in flight made the next
            // call after a timeout fail too, now and then, on a loaded machine.)
            let refusal = FileSystemError(.notConnected, "not sent: \(closedError.message)")
            call.promise.fail(refusal)
            promise?.fail(refusal)
            return
        }
        let requestID = nextRequestID
        nextRequestID &+= 1
        let deadline: NIODeadline = call.waitsIndefinitely ? .distantFuture : .now() + requestTimeout
        pending[requestID] = Waiting(promise: call.promise, deadline: deadline)
        let frame = Frame(kind: call.kind, requestID: requestID, payload: call.payload, trailer: call.trailer)
        context.write(wrapOutboundOut(frame), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        guard let waiting = pending.removeValue(forKey: frame.requestID) else {
            let error = FileSystemError.protocolError(
                "\(peerDescription) sent a reply for unknown request \(frame.requestID)")
            failAll(error)
            context.close(promise: nil)
            return
        }
        waiting.promise.succeed(frame)
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
        for call in waiting.values { call.promise.fail(error) }
    }
}
