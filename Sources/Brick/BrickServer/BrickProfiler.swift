import MortarCore
import MortarWire
import NIOCore
import Synchronization

/// `volume profile` and `volume top` on one brick: while the volume's `diagnostics.profile` is on, every request
/// the brick serves is counted per operation (calls, errors, latency, bytes) twice — since profiling started, and
/// since the daemon last asked (``profile()`` begins a new interval) — and per file for the hottest files by
/// opens, bytes read, bytes written and directory listings.
///
/// Off, it costs a request one atomic load. On, one lock per request: profiling is something an operator turns
/// on to look, as GlusterFS's io-stats is.
///
/// Invariants: every count is of requests that finished while profiling was on in the current generation (a
/// `profile start` after a `stop` starts from zero); the top tables never hold more than
/// `Limits.profileTopTrackedMax` files each nor the name table more than `Limits.profileNamesRememberedMax`.
public final class BrickProfiler: Sendable {
    private let policy: ServerPolicy
    /// The volume paths of directories, for naming the hottest files (those the brick cannot place are left out);
    /// asked once per report, off the event loop.
    private let directoryPaths: @Sendable (Set<FileID>) async -> [FileID: String]
    private let state = Mutex(State())

    public init(policy: ServerPolicy, directoryPaths: @escaping @Sendable (Set<FileID>) async -> [FileID: String]) {
        self.policy = policy
        self.directoryPaths = directoryPaths
    }

    /// Whether requests are counted now; read once per request, before it runs.
    var isProfiling: Bool { policy.profiling.isOn }

    private struct State {
        var generation: UInt64?
        var cumulative = Period()
        var interval = Period()
        var tops: [TopKind: TopTable] = [:]
        var names: [FileID: (parent: FileID, name: String)] = [:]

        /// The state for `generation`: as it is, or fresh when profiling was (re)started since. False for a
        /// generation older than the one counted (a request that read the switch before a restart): it must not
        /// wipe the newer counts, and is not counted.
        mutating func follow(_ generation: UInt64) -> Bool {
            if let current = self.generation {
                if generation == current { return true }
                if generation < current { return false }
            }
            self = State(generation: generation)
            return true
        }
    }

    /// Calls counted from a start.
    private struct Period {
        var started = ContinuousClock.now
        var operations: [Opcode: OperationCounts] = [:]
    }

    /// Records one finished request that was let in while profiling was on.
    func record(_ request: Request, reply: Reply?, failed: Bool, elapsed: Duration) {
        let switchState = policy.profiling
        guard switchState.isOn else { return }
        let nanoseconds = UInt64(clamping: elapsed.nanosecondCount)
        let moved = request.bytesMoved(reply: reply)
        state.withLock { state in
            guard state.follow(switchState.generation) else { return }
            state.cumulative.operations[request.opcode, default: OperationCounts()].add(
                nanoseconds, failed: failed, read: moved.read, written: moved.written)
            state.interval.operations[request.opcode, default: OperationCounts()].add(
                nanoseconds, failed: failed, read: moved.read, written: moved.written)
            guard !failed else { return }
            if let (id, parent, name) = request.named(reply: reply) {
                if state.names.count >= Limits.profileNamesRememberedMax { state.names.removeAll(keepingCapacity: true) }
                state.names[id] = (parent, name)
            }
            for (kind, id, bytes) in request.topCounts(reply: reply, moved: moved) {
                state.tops[kind, default: TopTable(kind: kind)].add(id, bytes: bytes)
            }
        }
    }

    /// What was counted since profiling started and since the last call; a new interval begins.
    func profile() -> BrickProfile {
        let switchState = policy.profiling
        return state.withLock { state in
            guard switchState.isOn else {
                state = State()
                return BrickProfile(profiling: false)
            }
            _ = state.follow(switchState.generation)
            let now = ContinuousClock.now
            defer { state.interval = Period(started: now) }
            return BrickProfile(
                profiling: true, cumulative: Self.report(state.cumulative, until: now),
                interval: Self.report(state.interval, until: now))
        }
    }

    private static func report(_ period: Period, until now: ContinuousClock.Instant) -> ProfileInterval {
        ProfileInterval(
            nanoseconds: UInt64(clamping: (now - period.started).nanosecondCount),
            operations: period.operations.sorted { $0.key.rawValue < $1.key.rawValue }.map { opcode, counts in
                counts.profile(named: "\(opcode)")
            })
    }

    /// The `count` hottest files by `kind`, with their paths where the brick knows them.
    func top(_ kind: TopKind, count: Int) async -> BrickTop {
        let switchState = policy.profiling
        let (ranked, names): ([(FileID, TopTable.Counts)], [FileID: (parent: FileID, name: String)]) = state.withLock {
            state in
            guard switchState.isOn else { return ([], [:]) }
            _ = state.follow(switchState.generation)
            let ranked = state.tops[kind]?.ranked(count) ?? []
            return (ranked, Dictionary(uniqueKeysWithValues: ranked.compactMap { id, _ in state.names[id].map { (id, $0) } }))
        }
        guard switchState.isOn else { return BrickTop(profiling: false, entries: []) }
        // Outside the lock and off the loop: resolving directories reads the brick's index.
        let directories = kind == .opendir ? Set(ranked.map(\.0)) : Set(names.values.map(\.parent))
        let paths = await directoryPaths(directories)
        let entries = ranked.map { id, counts in
            TopEntry(id: id, path: path(of: id, kind: kind, names: names, paths: paths), count: counts.count, bytes: counts.bytes)
        }
        return BrickTop(profiling: true, entries: entries)
    }

    private func path(
        of id: FileID, kind: TopKind, names: [FileID: (parent: FileID, name: String)], paths: [FileID: String]
    ) -> String? {
        if kind == .opendir, let path = paths[id] { return path }
        guard let (parent, name) = names[id], let directory = paths[parent] else { return nil }
        return directory == "/" ? "/" + name : directory + "/" + name
    }
}

/// One operation's counts over a period; the latency histogram has a bucket per power of two of nanoseconds.
struct OperationCounts {
    var calls: UInt64 = 0
    var errors: UInt64 = 0
    var total: UInt64 = 0
    var min = UInt64.max
    var max: UInt64 = 0
    var bytesRead: UInt64 = 0
    var bytesWritten: UInt64 = 0
    /// `buckets[i]` counts latencies in [2^(i-1), 2^i) ns (bucket 0: 0 ns).
    var buckets = [UInt64](repeating: 0, count: 65)

    mutating func add(_ nanoseconds: UInt64, failed: Bool, read: Int, written: Int) {
        calls &+= 1
        if failed { errors &+= 1 }
        total &+= nanoseconds
        min = Swift.min(min, nanoseconds)
        max = Swift.max(max, nanoseconds)
        bytesRead &+= UInt64(read)
        bytesWritten &+= UInt64(written)
        buckets[UInt64.bitWidth - nanoseconds.leadingZeroBitCount] &+= 1
    }

    /// The 99th percentile to the upper bound of its bucket, capped by the maximum.
    var p99: UInt64 {
        guard calls > 0 else { return 0 }
        let wanted = calls / 100 * 99 + (calls % 100 * 99 + 99) / 100
        var seen: UInt64 = 0
        for (index, count) in buckets.enumerated() {
            seen &+= count
            if seen >= wanted { return index >= 64 ? max : Swift.min(max, UInt64(1) << index) }
        }
        return max
    }

    func profile(named name: String) -> OperationProfile {
        OperationProfile(
            operation: name, calls: calls, errors: errors, totalNanoseconds: total,
            minNanoseconds: calls == 0 ? 0 : min, maxNanoseconds: max, p99Nanoseconds: p99, bytesRead: bytesRead,
            bytesWritten: bytesWritten)
    }
}

/// The files one kind of `top` follows. Bounded: when a new file finds it full, the less busy half goes.
struct TopTable {
    struct Counts {
        var count: UInt64 = 0
        var bytes: UInt64 = 0
    }

    let kind: TopKind
    private(set) var files: [FileID: Counts] = [:]

    init(kind: TopKind) { self.kind = kind }

    mutating func add(_ id: FileID, bytes: UInt64, capacity: Int = Limits.profileTopTrackedMax) {
        if files[id] == nil, files.count >= capacity {
            files = Dictionary(uniqueKeysWithValues: ranked(capacity / 2))
        }
        files[id, default: Counts()].count &+= 1
        files[id, default: Counts()].bytes &+= bytes
    }

    /// The busiest `count` files: by bytes for reads and writes, by count otherwise; ties by FileID, so the order
    /// is the same every time.
    func ranked(_ count: Int) -> [(FileID, Counts)] {
        let byBytes = kind == .read || kind == .write
        return files.sorted { a, b in
            let (x, y) = byBytes ? (a.value.bytes, b.value.bytes) : (a.value.count, b.value.count)
            if x != y { return x > y }
            if a.value.count != b.value.count { return a.value.count > b.value.count }
            return (a.key.high, a.key.low) < (b.key.high, b.key.low)
        }.prefix(count).map { ($0.key, $0.value) }
    }
}

extension Request {
    /// The bytes a request moved, read and written, by what it asked and what it was answered (nil: it failed,
    /// and moved nothing that counts).
    func bytesMoved(reply: Reply?) -> (read: Int, written: Int) {
        switch (self, reply) {
        case (.write(_, _, let data), _?): (0, data.readableBytes)
        case (.read, .data(let data)?): (data.readableBytes, 0)
        case (.openAndRead, .openedWithHead(let opened)?): (opened.head.readableBytes, 0)
        case (.lookupAndRead, .found(let found)?): (found.opened?.head.readableBytes ?? 0, 0)
        default: (0, 0)
        }
    }

    /// A name the request tied to a FileID (a lookup, a create), for the profiler to name its hottest files.
    fileprivate func named(reply: Reply?) -> (FileID, FileID, String)? {
        switch (self, reply) {
        case (.lookup(let name, let parent), .attributes(let attributes)?): (attributes.id, parent, name)
        case (.lookupAndRead(let name, let parent, _, _), .found(let found)?): (found.attributes.id, parent, name)
        case (.create(let name, let parent, let id, _, _), _): (id, parent, name)
        case (.makeDirectory(let name, let parent, let id, _), _): (id, parent, name)
        default: nil
        }
    }

    /// What a successful request adds to the top tables.
    fileprivate func topCounts(reply: Reply?, moved: (read: Int, written: Int)) -> [(TopKind, FileID, UInt64)] {
        switch (self, reply) {
        case (.open(let id, _), _), (.create(_, _, let id, _, _), _): [(.open, id, 0)]
        case (.openAndRead(let id, _, _), _): [(.open, id, 0), (.read, id, UInt64(moved.read))]
        case (.lookupAndRead, .found(let found)?) where found.opened != nil:
            [(.open, found.attributes.id, 0), (.read, found.attributes.id, UInt64(moved.read))]
        case (.read(let file, _, _), _): [(.read, file.id, UInt64(moved.read))]
        case (.write(let file, _, _), _): [(.write, file.id, UInt64(moved.written))]
        case (.readDirectory(let id, 0, _), _): [(.opendir, id, 0)]
        default: []
        }
    }
}
