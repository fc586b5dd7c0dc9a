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
