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
    /// For a watched call (``ReplyWatch``): after how long, and then every `Limits.replyWatchRecheckMilliseconds`,
    /// its caller is told that the reply is overdue.
    var overdue: OverdueNotice?
}

/// How a watched call's caller hears that its reply is overdue.
struct OverdueNotice {
    var after: TimeAmount
    var notify: @Sendable () -> Void
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
        /// When a watched call's caller is next told that the reply is overdue.
        var overdueAt: NIODeadline?
        var notifyOverdue: (@Sendable () -> Void)?
    }

    private var pending: [UInt64: Waiting] = [:]
    private var nextRequestID: UInt64 = 1
    private var closedError: FileSystemError?
    private let peerDescription: String
    private let requestTimeout: TimeAmount
    private var sweep: RepeatedTask?
    /// The one timer for every watched call's overdue notice, set for the earliest while any call is watched.
    private var overdueCheck: (at: NIODeadline, task: Scheduled<Void>)?

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
        overdueCheck?.task.cancel()
        overdueCheck = nil
    }

    /// Tells the callers of watched calls that are overdue, and sets the timer for the next one due.
    private func noticeOverdue(context: ChannelHandlerContext) {
        overdueCheck = nil
        let now = NIODeadline.now()
        var next: NIODeadline?
        for (id, waiting) in pending {
            guard var due = waiting.overdueAt, let notify = waiting.notifyOverdue else { continue }
            if due <= now {
                notify()
                due = now + .milliseconds(Limits.replyWatchRecheckMilliseconds)
                pending[id]?.overdueAt = due
            }
            next = min(next ?? due, due)
        }
        if let next { scheduleOverdueCheck(at: next, context: context) }
    }

    private func scheduleOverdueCheck(at due: NIODeadline, context: ChannelHandlerContext) {
        if let scheduled = overdueCheck {
            guard due < scheduled.at else { return }
            scheduled.task.cancel()
        }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let task = context.eventLoop.scheduleTask(deadline: due) {
            let (handler, context) = loopBound.value
            handler.noticeOverdue(context: context)
        }
        overdueCheck = (due, task)
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
        var waiting = Waiting(promise: call.promise, deadline: deadline)
        if let overdue = call.overdue {
            let due = NIODeadline.now() + overdue.after
            waiting.overdueAt = due
            waiting.notifyOverdue = overdue.notify
            scheduleOverdueCheck(at: due, context: context)
        }
        pending[requestID] = waiting
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
