import Glibc
import MortarCore
import Synchronization

/// An open directory stream (`DIR *`). Sendable by ownership: it is in ``DirectoryCursors``'s table or held by the
/// one request that took it out, never shared.
struct DirectoryStream: @unchecked Sendable {
    let pointer: OpaquePointer

    func close() { closedir(pointer) }
}

/// Directory streams left where a listing page ended, so the next page continues there instead of reading the
/// directory again from its start: listing a directory of N entries costs N reads, not N²/page. Keyed by the
/// directory and the cookie that page returned; at most `Limits.directoryCursorsMax` (the least recently used is
/// closed first), each holding one descriptor out of the brick's reserve.
///
/// Invariant: every stream is in the table or owned by exactly one request (``take(_:)`` removes it), and is
/// closed exactly once — by eviction, by ``closeAll()``, or by the request that does not put it back.
final class DirectoryCursors: Sendable {
    struct Key: Hashable, Sendable {
        let directory: FileID
        let cookie: UInt64
    }

    private struct State {
        var streams: [Key: (stream: DirectoryStream, used: UInt64)] = [:]
        var clock: UInt64 = 0
    }

    private let state = Mutex(State())

    /// The stream a page ended with at `key`, now the caller's, or nil.
    func take(_ key: Key) -> DirectoryStream? {
        state.withLock { $0.streams.removeValue(forKey: key)?.stream }
    }

    /// Keeps `stream` for the page after `key`; closes the least recently used one when the table is full.
    func put(_ stream: DirectoryStream, at key: Key) {
        let evicted: [DirectoryStream] = state.withLock { state in
            state.clock += 1
            var evicted: [DirectoryStream] = []
            if let replaced = state.streams.updateValue((stream, state.clock), forKey: key) {
                evicted.append(replaced.stream)
            }
            while state.streams.count > Limits.directoryCursorsMax,
                let oldest = state.streams.min(by: { $0.value.used < $1.value.used })
            {
                state.streams[oldest.key] = nil
                evicted.append(oldest.value.stream)
            }
            return evicted
        }
        for stream in evicted { stream.close() }
    }

    func closeAll() {
        let streams = state.withLock { state in
            defer { state.streams.removeAll() }
            return state.streams.values.map(\.stream)
        }
        for stream in streams { stream.close() }
    }
}
