import MortarCore
import Synchronization

/// What one replicated change touches, for ordering: a byte range of a file, or a name in a directory.
public enum SequenceKey: Hashable, Sendable {
    /// Bytes `lower..<upper` of a file; `UInt64.max` as the upper bound means "to the end, however large".
    case bytes(FileID, lower: UInt64, upper: UInt64)
    /// One name in a directory (a heal settles a directory name by name under these too).
    case name(FileID, String)

    public static func wholeFile(_ file: FileID) -> SequenceKey {
        .bytes(file, lower: 0, upper: .max)
    }

    func conflicts(with other: SequenceKey) -> Bool {
        switch (self, other) {
        case (.bytes(let file, let lower, let upper), .bytes(let otherFile, let otherLower, let otherUpper)):
            file == otherFile && lower < otherUpper && otherLower < upper
        case (.name(let directory, let name), .name(let otherDirectory, let otherName)):
            directory == otherDirectory && name == otherName
        default:
            false
        }
    }
}

/// Orders a primary's changes: a change waits while an earlier one that touches the same bytes or names is still
/// being applied and forwarded, so every member applies conflicting changes in one order, while changes that do
/// not conflict run side by side (a queue-depth-32 random write keeps 32 in flight). First come, first served
/// among conflicting changes.
final class RangeSequencer: Sendable {
    private struct Entry {
        var ticket: UInt64
        var keys: [SequenceKey]
        var waiter: CheckedContinuation<Void, Never>?
        var running: Bool
    }

    private struct State {
        var next: UInt64 = 0
        var entries: [Entry] = []
        /// ``drain()`` callers: each waits until no change with a ticket up to its own is left.
        var drains: [(upTo: UInt64, waiter: CheckedContinuation<Void, Never>)] = []
    }

    private let state = Mutex(State())

    /// Waits until no earlier, unfinished change conflicts with `keys`; returns the ticket to ``finish(_:)``.
    func begin(_ keys: [SequenceKey]) async -> UInt64 {
        let (ticket, mustWait) = state.withLock { state -> (UInt64, Bool) in
            state.next += 1
            let ticket = state.next
            let blocked = state.entries.contains { Self.conflict($0.keys, keys) }
            state.entries.append(Entry(ticket: ticket, keys: keys, waiter: nil, running: !blocked))
            return (ticket, blocked)
        }
        guard mustWait else { return ticket }
        await withCheckedContinuation { continuation in
            let resumeNow = state.withLock { state -> Bool in
                guard let index = state.entries.firstIndex(where: { $0.ticket == ticket }) else { return true }
                if state.entries[index].running { return true }
                state.entries[index].waiter = continuation
                return false
            }
            if resumeNow { continuation.resume() }
        }
        return ticket
    }

    /// Waits until every change begun before the call has finished (changes begun after it are not waited for),
    /// so whatever those changes did — acknowledged, or recorded as unsettled — is decided when it returns.
    func drain() async {
        await withCheckedContinuation { continuation in
            let resumeNow = state.withLock { state -> Bool in
                let upTo = state.next
                guard state.entries.contains(where: { $0.ticket <= upTo }) else { return true }
                state.drains.append((upTo, continuation))
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    /// Ends a change; starts every waiting change that no longer conflicts with an earlier one, and ends every
    /// drain whose changes are all finished.
    func finish(_ ticket: UInt64) {
        let ready = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.entries.removeAll { $0.ticket == ticket }
            let oldest = state.entries.map(\.ticket).min() ?? .max
            var started: [CheckedContinuation<Void, Never>] = []
            state.drains.removeAll { drain in
                guard drain.upTo < oldest else { return false }
                started.append(drain.waiter)
                return true
            }
            for index in state.entries.indices where !state.entries[index].running {
                let earlier = state.entries[..<index]
                guard !earlier.contains(where: { Self.conflict($0.keys, state.entries[index].keys) }) else { continue }
                state.entries[index].running = true
                if let waiter = state.entries[index].waiter {
                    state.entries[index].waiter = nil
                    started.append(waiter)
                }
            }
            return started
        }
        for continuation in ready { continuation.resume() }
    }

    var pendingCount: Int {
        state.withLock { $0.entries.count }
    }

    private static func conflict(_ first: [SequenceKey], _ second: [SequenceKey]) -> Bool {
        first.contains { key in second.contains { key.conflicts(with: $0) } }
    }
}
