import MortarCore
import NIOCore
import Synchronization

/// Read-ahead for one open file: once a reader has read twice in a row where its previous read ended, the next
/// read asks the bricks for a whole window at once — in parallel pieces, so the bricks read one piece while another
/// travels — and the reads that follow are served from what came back. The window starts at twice the read (at
/// least `Limits.readAheadInitialByteCount`) and doubles each time the reader uses it up, up to
/// `Limits.readAheadByteCountMax`; a read anywhere else drops it and starts over.
///
/// What a reader may see, and why it is safe:
/// - its own process's changes at once: every change through this volume (write, truncate, allocate, discard,
///   zero-fill, lock) moves the volume's change generation, and a window fetched under an older generation is
///   never served;
/// - other clients' changes within `Limits.readAheadStaleMilliseconds`: a window older than that is fetched again.
///   Readers that need more (O_DIRECT opens, the `performance.read-ahead off` volume option) get no read-ahead.
///
/// The window is fetched inside the read that needs it (no work outlives a call), and its memory is reserved from
/// the volume's `Limits.readAheadVolumeByteCountMax` first: when the volume has none left, reads go as they are.
struct ReadAheadWindow {
    /// Bytes fetched ahead, contiguous from `offset`, under `generation` at `fetchedAt`.
    struct Fetched {
        var offset: UInt64
        var pieces: [ByteBuffer]
        var byteCount: Int
        /// The fetch came back short: the file ends at `offset + byteCount` (as of `fetchedAt`).
        var reachesEnd: Bool
        var generation: UInt64
        var fetchedAt: ContinuousClock.Instant

        var end: UInt64 { offset + UInt64(byteCount) }
    }

    /// What a read should do.
    enum Plan: Equatable {
        /// Serve it from the window.
        case serve(ByteBuffer)
        /// Read exactly what was asked (not sequential, or no memory for a window).
        case passThrough
        /// Fetch `count` bytes (at least what was asked) at the read's offset, and give the rest to ``fetched``.
        case fetch(count: Int)
    }

    /// Where the next read starts if the reader is sequential.
    private(set) var expected: UInt64 = 0
    /// Reads in a row that started where the one before ended.
    private(set) var sequentialReads = 0
    /// The size of the next fetch.
    private(set) var window = 0
    private(set) var fetched: Fetched?

    /// Bytes this window holds (what it must give back to the volume's budget).
    var heldByteCount: Int { fetched?.byteCount ?? 0 }

    /// Decides how to serve `count` bytes at `offset`. `generation` is the volume's change generation now.
    mutating func plan(offset: UInt64, count: Int, generation: UInt64, now: ContinuousClock.Instant) -> Plan {
        // A range that would end past UInt64.max is the bricks' to refuse; it is never read ahead.
        guard count >= 0, offset <= UInt64.max - UInt64(count) - UInt64(Limits.readAheadByteCountMax) else {
            drop()
            return .passThrough
        }
        let sequential = offset == expected
        sequentialReads = sequential ? sequentialReads + 1 : 0
        expected = offset + UInt64(count)
        if let current = fetched {
            if current.generation != generation
                || now - current.fetchedAt >= .milliseconds(Limits.readAheadStaleMilliseconds)
            {
                fetched = nil
            } else if offset >= current.offset,
                offset + UInt64(count) <= current.end || (current.reachesEnd && offset <= current.end)
            {
                let data = Self.gather(current, from: offset, count: count)
                expected = offset + UInt64(data.readableBytes)
                return .serve(data)
            }
        }
        guard sequential, sequentialReads >= 2, count > 0, count < Limits.readAheadByteCountMax else {
            if !sequential { drop() }
            return .passThrough
        }
        window = window == 0
            ? max(2 * count, Limits.readAheadInitialByteCount)
            : min(2 * window, Limits.readAheadByteCountMax)
        window = min(max(window, count), Limits.readAheadByteCountMax)
        return .fetch(count: window)
    }

    /// Keeps what a fetch of `requested` bytes at `offset` brought beyond the `count` the read asked for, and
    /// returns the read's part. `pieces` are contiguous from `offset`; the whole is short only at the end of file.
    mutating func fetched(
        offset: UInt64, count: Int, requested: Int, pieces: [ByteBuffer], generation: UInt64,
        at instant: ContinuousClock.Instant
    ) -> ByteBuffer {
        let total = pieces.reduce(0) { $0 + $1.readableBytes }
        let window = Fetched(
            offset: offset, pieces: pieces, byteCount: total, reachesEnd: total < requested, generation: generation,
            fetchedAt: instant)
        fetched = total > count ? window : nil
        let data = Self.gather(window, from: offset, count: count)
        expected = offset + UInt64(data.readableBytes)
        return data
    }

    /// Starts with the head an `openAndRead` brought: `requested` bytes from offset 0 asked for under `generation`.
    mutating func primed(head: ByteBuffer, requested: Int, generation: UInt64, at instant: ContinuousClock.Instant) {
        fetched = Fetched(
            offset: 0, pieces: [head], byteCount: head.readableBytes, reachesEnd: head.readableBytes < requested,
            generation: generation, fetchedAt: instant)
    }

    /// Forgets the window (a read elsewhere, a change, the file closing).
    mutating func drop() {
        fetched = nil
        window = 0
    }

    /// Up to `count` bytes at `offset` of `fetched` (fewer past its end): a slice of one piece when it fits, so
    /// the common aligned read copies nothing here.
    static func gather(_ fetched: Fetched, from offset: UInt64, count: Int) -> ByteBuffer {
        var skip = Int(offset - fetched.offset)
        var wanted = min(count, fetched.byteCount - skip)
        guard wanted > 0 else { return ByteBuffer() }
        var result: ByteBuffer?
        for piece in fetched.pieces {
            if skip >= piece.readableBytes {
                skip -= piece.readableBytes
                continue
            }
            let length = min(wanted, piece.readableBytes - skip)
            let slice = piece.getSlice(at: piece.readerIndex + skip, length: length)!
            skip = 0
            wanted -= length
            if result == nil, wanted == 0 { return slice }
            if result == nil { result = ByteBuffer(); result!.reserveCapacity(length + wanted) }
            result!.writeImmutableBuffer(slice)
            if wanted == 0 { break }
        }
        return result ?? ByteBuffer()
    }
}

/// The bytes a volume's read-ahead windows may hold together (`Limits.readAheadVolumeByteCountMax`), and the
/// generation every change through the volume moves.
final class ReadAheadBudget: Sendable {
    private let available = Atomic<Int>(Limits.readAheadVolumeByteCountMax)
    private let changes = Atomic<UInt64>(0)

    var generation: UInt64 { changes.load(ordering: .acquiring) }

    /// Called before a change is sent: a window fetched from now on is fetched after it began.
    func noteChange() {
        changes.add(1, ordering: .releasing)
    }

    /// Takes `count` bytes if the volume has them.
    func reserve(_ count: Int) -> Bool {
        var current = available.load(ordering: .relaxed)
        while current >= count {
            let (exchanged, original) = available.compareExchange(
                expected: current, desired: current - count, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
        return false
    }

    func release(_ count: Int) {
        available.add(count, ordering: .relaxed)
    }

    /// Bytes no window holds now.
    var availableByteCount: Int { available.load(ordering: .relaxed) }
}

/// One open file's ``ReadAheadWindow`` with its memory accounted in the volume's ``ReadAheadBudget``.
final class FileReadAhead: Sendable {
    private let window = Mutex(ReadAheadWindow())
    private let budget: ReadAheadBudget

    init(budget: ReadAheadBudget) {
        self.budget = budget
    }

    deinit {
        budget.release(window.withLock { $0.heldByteCount })
    }

    /// Serves `count` bytes at `offset` from the window, fetching one with `fetch` (which reads the given range in
    /// pieces, contiguous, short only at the end of the file) when the reader is sequential; nil when the read
    /// should go as it is.
    func read(
        at offset: UInt64, count: Int, fetch: (UInt64, Int) async throws -> [ByteBuffer]
    ) async throws -> ByteBuffer? {
        let generation = budget.generation
        let plan = window.withLock { window in
            let held = window.heldByteCount
            let plan = window.plan(offset: offset, count: count, generation: generation, now: .now)
            budget.release(held - window.heldByteCount)
            return plan
        }
        switch plan {
        case .serve(let data):
            return data
        case .passThrough:
            return nil
        case .fetch(let requested):
            guard budget.reserve(requested) else { return nil }
            let pieces: [ByteBuffer]
            do {
                pieces = try await fetch(offset, requested)
            } catch {
                budget.release(requested)
                throw error
            }
            return window.withLock { window in
                let held = window.heldByteCount
                let data = window.fetched(
                    offset: offset, count: count, requested: requested, pieces: pieces, generation: generation,
                    at: .now)
                budget.release(held + requested - window.heldByteCount)
                return data
            }
        }
    }

    /// Holds the head an `openAndRead` brought as the window
    /// (see ``ReadAheadWindow/primed(head:requested:generation:at:)``); `reserved` bytes of the budget were taken
    /// for it, and what the head does not use goes back.
    func prime(head: ByteBuffer, requested: Int, reserved: Int, generation: UInt64) {
        window.withLock { window in
            let held = window.heldByteCount
            window.primed(head: head, requested: requested, generation: generation, at: .now)
            budget.release(held + reserved - window.heldByteCount)
        }
    }

    /// Gives the window's memory back (the file is closing).
    func drop() {
        window.withLock { window in
            budget.release(window.heldByteCount)
            window.drop()
        }
    }
}
