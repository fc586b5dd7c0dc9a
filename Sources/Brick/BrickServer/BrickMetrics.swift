import CoreMetrics
import MortarCore
import MortarMetrics
import MortarTransport
import MortarWire
import NIOCore
import Synchronization

/// What a brick counts of the requests it serves: per operation (the wire's opcode names), how many, how many
/// failed and with which errno, how long they took; bytes read and written; requests in flight, connections and
/// open files. Each metric carries the brick's `volume`, `brick` (its position) and `export` labels, so the
/// daemon's scrape of all its bricks tells them apart.
///
/// The per-operation counters and timers are made once, at start, in a table indexed by opcode: counting a
/// request is an atomic add and one histogram update, no lookup. Only error counters are made on first use (an
/// operation and errno seen for the first time), under a lock.
public final class BrickMetrics: Sendable {
    public let registry: MetricsRegistry
    private let labels: [(String, String)]
    private let operations: [CoreMetrics.Counter?]
    private let durations: [CoreMetrics.Timer?]
    private let errors: ErrorCounters
    private let readBytes: CoreMetrics.Counter
    private let writtenBytes: CoreMetrics.Counter
    private let inFlight: CoreMetrics.Meter
    let connections: CoreMetrics.Meter
    private let inFlightCount = Atomic<Int>(0)
    private let connectionCount = Atomic<Int>(0)
    let openFiles: CoreMetrics.Meter
    private let queued: CoreMetrics.Meter

    /// How many files the brick holds open, read at each scrape.
    private let openFileCount: @Sendable () -> Int
    /// How many requests wait for an I/O pool thread, read at each scrape.
    private let queuedCount: @Sendable () -> Int
    /// A replica member's view, position and status, read at each scrape; nil for a brick of no replica set.
    private let replica: (@Sendable () -> ReplicaReading)?
    /// Gauges of replication whose labels depend on the set (members, states), made on first use.
    private let replicaGauges = Mutex<[String: CoreMetrics.Meter]>([:])
    private let healedBytes: CoreMetrics.Counter
    private let refusals: [RequestServer.Refusal: CoreMetrics.Counter]
    /// Per member forwarded to: a duration histogram and a failure counter, made on first use.
    private let forwards = Mutex<[Int: (duration: CoreMetrics.Timer, failures: CoreMetrics.Counter)]>([:])
    private let healedBytesCounted = Mutex<UInt64>(0)

    /// What a scrape reads of a replica member.
    public struct ReplicaReading: Sendable {
        public var view: ReplicaSetView
        public var member: Int
        public var status: MemberStatus

        public init(view: ReplicaSetView, member: Int, status: MemberStatus) {
            self.view = view
            self.member = member
            self.status = status
        }
    }

    /// - Parameters:
    ///   - volume, brick, export: the labels every metric carries: the volume, the brick's position in it, and
    ///     the exported directory.
    public init(
        volume: String, brick: Int, export: String, registry: MetricsRegistry = MetricsRegistry(),
        openFiles openFileCount: @escaping @Sendable () -> Int = { 0 },
        queued queuedCount: @escaping @Sendable () -> Int = { 0 },
        replica: (@Sendable () -> ReplicaReading)? = nil
    ) {
        self.registry = registry
        self.openFileCount = openFileCount
        self.queuedCount = queuedCount
        self.replica = replica
        let labels = [("volume", volume), ("brick", "\(brick)"), ("export", export)]
        self.labels = labels
        let factory = registry.factory
        var operations = [CoreMetrics.Counter?](repeating: nil, count: 256)
        var durations = [CoreMetrics.Timer?](repeating: nil, count: 256)
        for opcode in Opcode.allCases {
            let dimensions = labels + [("operation", "\(opcode)")]
            operations[Int(opcode.rawValue)] = CoreMetrics.Counter(
                label: "mortar_brick_operations_total", dimensions: dimensions, factory: factory)
            durations[Int(opcode.rawValue)] = CoreMetrics.Timer(
                label: "mortar_brick_operation_duration_seconds", dimensions: dimensions, factory: factory)
        }
        self.operations = operations
        self.durations = durations
        errors = ErrorCounters(label: "mortar_brick_operation_errors_total", dimensions: labels, registry: registry)
        readBytes = CoreMetrics.Counter(label: "mortar_brick_read_bytes_total", dimensions: labels, factory: factory)
        writtenBytes = CoreMetrics.Counter(
            label: "mortar_brick_written_bytes_total", dimensions: labels, factory: factory)
        inFlight = CoreMetrics.Meter(label: "mortar_brick_requests_in_flight", dimensions: labels, factory: factory)
        connections = CoreMetrics.Meter(label: "mortar_brick_connections", dimensions: labels, factory: factory)
        openFiles = CoreMetrics.Meter(label: "mortar_brick_open_files", dimensions: labels, factory: factory)
        queued = CoreMetrics.Meter(label: "mortar_brick_requests_queued", dimensions: labels, factory: factory)
        healedBytes = CoreMetrics.Counter(label: "mortar_heal_copied_bytes_total", dimensions: labels, factory: factory)
        refusals = Dictionary(uniqueKeysWithValues: RequestServer.Refusal.allCases.map { why in
            (why, CoreMetrics.Counter(
                label: "mortar_brick_refused_connections_total", dimensions: labels + [("reason", why.rawValue)],
                factory: factory))
        })
        inFlight.set(0)
        connections.set(0)
        openFiles.set(0)
    }

    /// A request begins: counted in flight until ``finished(_:started:moved:error:)``. The gauges of requests in
    /// flight and connections are set from their counts at each scrape, not on every change.
    func started() -> ContinuousClock.Instant {
        inFlightCount.add(1, ordering: .relaxed)
        return .now
    }

    /// A request ended, with `error` or having moved `moved` bytes (``Request/bytesMoved(reply:)``).
    func finished(_ request: Request, started: ContinuousClock.Instant, moved: (read: Int, written: Int), error: (any Error)?) {
        let elapsed = ContinuousClock.now - started
        inFlightCount.subtract(1, ordering: .relaxed)
        let opcode = request.opcode
        operations[Int(opcode.rawValue)]?.increment()
        durations[Int(opcode.rawValue)]?.recordNanoseconds(elapsed.nanosecondCount)
        if let error {
            let code = (error as? FileSystemError)?.code ?? .inputOutput
            errors.increment(operation: "\(opcode)", code: code)
            return
        }
        if moved.written > 0 { writtenBytes.increment(by: Int64(moved.written)) }
        if moved.read > 0 { readBytes.increment(by: Int64(moved.read)) }
    }

    /// The brick's metrics in Prometheus's text format, as of now.
    public func exposition() -> String {
        openFiles.set(openFileCount())
        queued.set(queuedCount())
        inFlight.set(inFlightCount.load(ordering: .relaxed))
        connections.set(connectionCount.load(ordering: .relaxed))
        if let replica { observe(replica()) }
        return registry.exposition()
    }

    /// A replica member's epoch, its set's members by state, and what it has recorded for each member to heal.
    private func observe(_ reading: ReplicaReading) {
        let set = ("set", "\(reading.view.setIndex)")
        gauge("mortar_replica_member_epoch", [set]).set(Int(clamping: reading.view.epoch))
        for state in MemberState.allCases {
            let count = reading.view.members.filter { $0 == state }.count
            gauge("mortar_replica_set_members", [set, ("state", state.rawValue)]).set(count)
        }
        for member in reading.view.members.indices where member != reading.member {
            let pending = reading.status.pending.first { $0.member == member }
            let target = ("for_member", "\(member)")
            gauge("mortar_heal_pending_files", [set, target]).set((pending?.files ?? 0) + (pending?.directories ?? 0))
            gauge("mortar_heal_pending_bytes", [set, target]).set(Int(clamping: pending?.bytes ?? 0))
        }
        // The member's running total becomes a counter: only what it grew by since the last scrape is added.
        let grown = healedBytesCounted.withLock { counted -> UInt64 in
            let total = reading.status.bytesHealed
            defer { counted = max(counted, total) }
            return total > counted ? total - counted : 0
        }
        if grown > 0 { healedBytes.increment(by: Int64(clamping: grown)) }
    }

    private func gauge(_ name: String, _ extra: [(String, String)]) -> CoreMetrics.Meter {
        let key = name + extra.map { "|\($0.0)=\($0.1)" }.joined()
        return replicaGauges.withLock { gauges in
            if let gauge = gauges[key] { return gauge }
            let gauge = CoreMetrics.Meter(label: name, dimensions: labels + extra, factory: registry.factory)
            gauges[key] = gauge
            return gauge
        }
    }

    /// A change this member, as a primary, forwarded to `member`: how long until it answered or failed.
    public func recordForward(to member: Int, took: Duration, failed: Bool) {
        let recorders = forwards.withLock { forwards in
            if let known = forwards[member] { return known }
            let dimensions = labels + [("to_member", "\(member)")]
            let made = (
                duration: CoreMetrics.Timer(
                    label: "mortar_replica_forward_duration_seconds", dimensions: dimensions, factory: registry.factory),
                failures: CoreMetrics.Counter(
                    label: "mortar_replica_forward_failures_total", dimensions: dimensions, factory: registry.factory)
            )
            forwards[member] = made
            return made
        }
        recorders.duration.recordNanoseconds(took.nanosecondCount)
        if failed { recorders.failures.increment() }
    }

    /// A connection refused before it was served (``RequestServer/Refusal``).
    func refused(_ why: RequestServer.Refusal) {
        refusals[why]?.increment()
    }

    /// A connection opened (+1) or closed (-1).
    func connection(_ change: Int) {
        connectionCount.add(change, ordering: .relaxed)
    }
}
