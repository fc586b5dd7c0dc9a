import MortarCore
import NIOCore
import Synchronization

/// The first bytes of a file, fetched in the same exchange as its open (`openAndRead`, GlusterFS's quick-read),
/// for a client that reads through the stack and keeps no ``File`` — the FUSE mount, whose kernel reads a small
/// file right after opening it. A ``File`` primes its read-ahead window with its head instead.
///
/// Invariants: a head answers only reads that fall inside it (or, when it is the whole file, reads at or past its
/// end), only while no change through the volume has finished since its fetch began (the volume's change
/// generation, as for read-ahead windows), and only within `Limits.readAheadStaleMilliseconds` of the fetch (other
/// clients' writes: the staleness the read-ahead window documents). Its bytes are held in the volume's read-ahead
/// budget and given back once it is stale or gone.
public final class FileHead: Sendable {
    private struct Held {
        var bytes: ByteBuffer
        var reserved: Int
    }

    private let held: Mutex<Held?>
    /// Whether the file ended inside the head: it came back shorter than asked for.
    private let isWholeFile: Bool
    private let generation: UInt64
    private let fetched: ContinuousClock.Instant
    private let budget: ReadAheadBudget

    /// Takes over `head`'s reservation, fetched from `fetched` on (the time before the fetch began).
    init(_ head: Volume.PendingHead, fetched: ContinuousClock.Instant, budget: ReadAheadBudget) {
        let bytes = head.opened.head
        // The reservation was `requested`; only what came back stays held.
        let kept = min(bytes.readableBytes, head.requested)
        budget.release(head.requested - kept)
        held = Mutex(Held(bytes: bytes.getSlice(at: bytes.readerIndex, length: kept) ?? ByteBuffer(), reserved: kept))
        isWholeFile = bytes.readableBytes < head.requested
        generation = head.generation
        self.fetched = fetched
        self.budget = budget
    }

    /// Bytes held now (0 once stale and dropped).
    public var byteCount: Int { held.withLock { $0?.bytes.readableBytes ?? 0 } }

    /// The bytes at `offset` up to `count` when the head may answer the read (see the type's invariants); nil when
    /// the caller must read from the volume. A stale head drops its bytes at once.
    public func read(at offset: UInt64, count: Int, now: ContinuousClock.Instant = .now) -> ByteBuffer? {
        let isFresh = budget.generation == generation
            && now - fetched < .milliseconds(Limits.readAheadStaleMilliseconds)
        let (bytes, dropped) = held.withLock { held -> (ByteBuffer?, Int) in
            guard let current = held else { return (nil, 0) }
            guard isFresh else {
                held = nil
                return (nil, current.reserved)
            }
            let length = UInt64(current.bytes.readableBytes)
            guard count >= 0, (offset <= length && UInt64(count) <= length - offset) || isWholeFile else {
                return (nil, 0)
            }
            guard offset < length else { return (ByteBuffer(), 0) }
            let slice = current.bytes.getSlice(
                at: current.bytes.readerIndex + Int(offset), length: Int(min(UInt64(count), length - offset)))
            return (slice, 0)
        }
        if dropped > 0 { budget.release(dropped) }
        return bytes
    }

    deinit {
        if let reserved = held.withLock({ $0?.reserved }) { budget.release(reserved) }
    }
}

extension Volume {
    /// Opens `file` by FileID and, when the open qualifies, fetches its first `Limits.quickReadByteCountMax` bytes
    /// in the same exchange: read-ahead on, for reading only (nothing that changes the file, not O_DIRECT), and
    /// memory left in the read-ahead budget. Otherwise a plain open, with no head. For callers that know the file
    /// is small (a larger one's head only answers reads of its first bytes).
    public func openFetchingHead(_ file: FileID, flags: OpenFlags, context: OperationContext) async throws
        -> (file: OpenFile, head: FileHead?)
    {
        let started = ContinuousClock.now
        let fetched = try await fetchingHead(flags: flags) { count in
            try await stack.openAndRead(file, flags: flags, count: count, context: context)
        } head: { $0 }
        guard let head = fetched?.head else { return (try await stack.open(file, flags: flags, context: context), nil) }
        return (head.opened.file, FileHead(head, fetched: started, budget: readAheadBudget))
    }
}
