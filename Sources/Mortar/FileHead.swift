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

    init(bytes: ByteBuffer, requested: Int, generation: UInt64, fetched: ContinuousClock.Instant, budget: ReadAheadBudget) {
        // The reservation was `requested`; only what came back stays held.
        let kept = min(bytes.readableBytes, requested)
        budget.release(requested - kept)
        let slice = bytes.getSlice(at: bytes.readerIndex, length: kept) ?? ByteBuffer()
        held = Mutex(Held(bytes: slice, reserved: kept))
        isWholeFile = bytes.readableBytes < requested
        self.generation = generation
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
        let reserved: Int? = held.withLock { held in
            guard !isFresh, let current = held else { return nil }
            held = nil
            return current.reserved
        }
        if let reserved {
            budget.release(reserved)
            return nil
        }
        return held.withLock { held -> ByteBuffer? in
            guard let bytes = held?.bytes, count >= 0 else { return nil }
            let length = UInt64(bytes.readableBytes)
            let isInside = offset <= length && UInt64(count) <= length - offset
            guard isInside || isWholeFile else { return nil }
            guard offset < length else { return ByteBuffer() }
            return bytes.getSlice(at: bytes.readerIndex + Int(offset), length: Int(min(UInt64(count), length - offset)))
        }
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
        let requested = Limits.quickReadByteCountMax
        guard readsAhead, flags.contains(.read), flags.isDisjoint(with: OpenFlags.changing.union([.direct, .directory])),
            readAheadBudget.reserve(requested)
        else { return (try await stack.open(file, flags: flags, context: context), nil) }
        let generation = readAheadBudget.generation
        let started = ContinuousClock.now
        let opened: OpenedFile
        do {
            opened = try await stack.openAndRead(file, flags: flags, count: requested, context: context)
        } catch {
            readAheadBudget.release(requested)
            throw error
        }
        let head = FileHead(
            bytes: opened.head, requested: requested, generation: generation, fetched: started, budget: readAheadBudget)
        return (opened.file, head)
    }
}
