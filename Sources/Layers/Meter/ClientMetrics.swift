import CoreMetrics
import MortarCore
import MortarMetrics
import Synchronization

/// Every operation of ``FileOperations`` by the name the metrics give it (the wire's opcode names, so a client's
/// and a brick's series line up). Exhaustive through ``MeterLayer``: each of its methods names its case.
enum MeteredOperation: Int, CaseIterable {
    case lookup, attributes, attributesOfOpen, setAttributes, checkAccess, create, open, openAndRead, lookupAndRead
    case release, read, grantLocalRead, write, truncate, synchronize, flush, allocate, discard, zeroFill, seek
    case lock, testLock, unlink, makeDirectory, removeDirectory, readDirectory, rename, link, makeSymbolicLink
    case readSymbolicLink, makeNode, fileSystemStatistics, extendedAttribute, setExtendedAttribute
    case extendedAttributeNames, removeExtendedAttribute, control
}

/// What a client process counts of its requests to a volume, for Prometheus: per operation how many, how long,
/// how many failed and with which errno; bytes read and written; requests in flight. Every series carries the
/// volume's name. Give one to `Volume.connect(…, metrics:)` (or `mortar mount -o metrics=HOST:PORT`, which serves
/// it at `/metrics`); read it with ``exposition()``.
///
/// Counters and timers per operation are made once, here: a request costs an atomic add and one histogram
/// update. Error counters are made on the first error of each operation and errno.
public final class ClientMetrics: Sendable {
    public let registry: MetricsRegistry
    private let operations: [CoreMetrics.Counter]
    private let durations: [CoreMetrics.Timer]
    private let errors: ErrorCounters
    private let readBytes: CoreMetrics.Counter
    private let writtenBytes: CoreMetrics.Counter
    private let inFlight: CoreMetrics.Meter
    private let inFlightCount = Atomic<Int>(0)

    public init(volume: String, registry: MetricsRegistry = MetricsRegistry()) {
        self.registry = registry
        let factory = registry.factory
        let labels = [("volume", volume)]
        operations = MeteredOperation.allCases.map { operation in
            CoreMetrics.Counter(
                label: "mortar_client_operations_total", dimensions: labels + [("operation", "\(operation)")],
                factory: factory)
        }
        durations = MeteredOperation.allCases.map { operation in
            CoreMetrics.Timer(
                label: "mortar_client_operation_duration_seconds", dimensions: labels + [("operation", "\(operation)")],
                factory: factory)
        }
        errors = ErrorCounters(label: "mortar_client_operation_errors_total", dimensions: labels, registry: registry)
        readBytes = CoreMetrics.Counter(label: "mortar_client_read_bytes_total", dimensions: labels, factory: factory)
        writtenBytes = CoreMetrics.Counter(label: "mortar_client_written_bytes_total", dimensions: labels, factory: factory)
        inFlight = CoreMetrics.Meter(label: "mortar_client_requests_in_flight", dimensions: labels, factory: factory)
    }

    /// The metrics in Prometheus's text format, as of now.
    public func exposition() -> String {
        inFlight.set(inFlightCount.load(ordering: .relaxed))
        return registry.exposition()
    }

    func began() -> ContinuousClock.Instant {
        inFlightCount.add(1, ordering: .relaxed)
        return .now
    }

    func finished(_ operation: MeteredOperation, started: ContinuousClock.Instant, error: (any Error)?) {
        let elapsed = ContinuousClock.now - started
        inFlightCount.subtract(1, ordering: .relaxed)
        operations[operation.rawValue].increment()
        durations[operation.rawValue].recordNanoseconds(elapsed.nanosecondCount)
        guard let error else { return }
        errors.increment(operation: "\(operation)", code: FileSystemError.wrapping(error).code)
    }

    func read(_ count: Int) {
        if count > 0 { readBytes.increment(by: Int64(count)) }
    }

    func wrote(_ count: Int) {
        if count > 0 { writtenBytes.increment(by: Int64(count)) }
    }
}
