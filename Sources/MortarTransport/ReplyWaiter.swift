import MortarWire
import Synchronization

/// One watched call's wait (see ``ReplyWatch``): for its reply, or for the multiplexer's notice that the reply is
/// overdue, whichever comes first — with no task or timer of its own.
final class ReplyWaiter: Sendable {
    enum Event: Sendable {
        case reply(Result<Frame, any Error>)
        case overdue
    }

    private struct State {
        var waiting: CheckedContinuation<Event, Never>?
        var reply: Result<Frame, any Error>?
        var overdue = false
    }

    private let state = Mutex(State())

    /// The call ended (its reply, or its failure): wakes the caller, or is kept until it asks.
    func received(_ reply: Result<Frame, any Error>) {
        deliver(.reply(reply)) { $0.reply = reply }
    }

    /// The multiplexer found the call overdue: wakes the caller, or is kept (once) until it asks.
    func noticeOverdue() {
        deliver(.overdue) { $0.overdue = true }
    }

    /// Resumes the waiting caller with `event`, or has `keep` note it for the caller's next ``next()``.
    private func deliver(_ event: Event, orKeep keep: (inout State) -> Void) {
        let waiting = state.withLock { state -> CheckedContinuation<Event, Never>? in
            guard let waiting = state.waiting else {
                keep(&state)
                return nil
            }
            state.waiting = nil
            return waiting
        }
        waiting?.resume(returning: event)
    }

    /// The next thing that happened to the call; a reply before any notice.
    func next() async -> Event {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> Event? in
                if let reply = state.reply { return .reply(reply) }
                if state.overdue {
                    state.overdue = false
                    return .overdue
                }
                state.waiting = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}
