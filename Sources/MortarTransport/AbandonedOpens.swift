import MortarCore
import MortarWire
import NIOCore
import Synchronization

/// Opens whose caller stopped waiting. A call the caller abandons — its task was cancelled, or a replica set's
/// newer view took the brick off its path — ends at once, and its reply, when it comes, used to be dropped: a reply
/// to an open, create, `openAndRead` or `lookupAndRead` then left a handle open on the brick that nobody would ever
/// release, until the connection closed. Such a reply is now handed to the connection, which releases the handle.
///
/// Exactly one side gets the reply: the caller, if it was still waiting when the reply came, or the connection's
/// release, if the caller had already given up (``ReplyClaim``).
final class ReplyClaim: Sendable {
    private let taken = Atomic<Bool>(false)

    /// Whether this side takes the reply: true for the first to ask, false for every later one.
    func take() -> Bool {
        !taken.exchange(true, ordering: .acquiringAndReleasing)
    }
}

/// What a caller waits on, and how it gives up. Plainly the multiplexer's own promise: a reply after giving up is
/// dropped. With an orphan handler, a promise of the caller's, which the reply completes only if the caller is still
/// waiting; a reply that comes after the caller gave up goes to the handler instead.
struct PendingReply: Sendable {
    let promise: EventLoopPromise<Frame>
    private let claim: ReplyClaim?

    init(_ wire: EventLoopPromise<Frame>) {
        promise = wire
        claim = nil
    }

    init(_ wire: EventLoopPromise<Frame>, orphan: @escaping @Sendable (Frame) -> Void) {
        let caller = wire.futureResult.eventLoop.makePromise(of: Frame.self)
        let claim = ReplyClaim()
        wire.futureResult.whenComplete { result in
            if claim.take() {
                caller.completeWith(result)
            } else if case .success(let frame) = result {
                orphan(frame)
            }
        }
        promise = caller
        self.claim = claim
    }

    /// Ends the wait with `error`, unless the reply came first.
    func giveUp(_ error: any Error) {
        guard claim?.take() ?? true else { return }
        promise.fail(error)
    }
}

extension BrickConnection {
    /// The open file a brick's reply hands over, if any.
    static func openedFile(in frame: Frame) -> OpenFile? {
        guard frame.kind == .reply else { return nil }
        // A late reply that does not decode opened nothing this client could release.
        guard let reply = try? Reply.decode(frame.payload) else { return nil }
        switch reply {
        case .created(let created): return created.file
        case .opened(let file): return file
        case .openedWithHead(let opened): return opened.file
        case .found(let found): return found.opened?.file
        default: return nil
        }
    }
}
