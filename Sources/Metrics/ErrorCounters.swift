import CoreMetrics
import MortarCore
import Synchronization

/// Counters of failed requests by operation and errno, made on first use (an operation and errno seen for the
/// first time), under a lock. Bounded: an errno the C library has no name for — a faulty or hostile peer can send
/// any number — is counted under `errno="other"`, so the series are at most operations × named errnos.
public final class ErrorCounters: Sendable {
    private let label: String
    private let dimensions: [(String, String)]
    private let registry: MetricsRegistry
    private let counters = Mutex<[Key: CoreMetrics.Counter]>([:])

    private struct Key: Hashable {
        var operation: String
        var errno: Int32
    }

    /// `label` is the family; `dimensions` the labels every series carries besides `operation` and `errno`.
    public init(label: String, dimensions: [(String, String)], registry: MetricsRegistry) {
        self.label = label
        self.dimensions = dimensions
        self.registry = registry
    }

    /// Counts one failure of `operation` with `code`.
    public func increment(operation: String, code: FileSystemError.Code) {
        let name = code.symbolicName
        let known = !name.hasPrefix("errno ")
        let key = Key(operation: operation, errno: known ? code.rawValue : -1)
        let counter = counters.withLock { counters in
            if let counter = counters[key] { return counter }
            let counter = CoreMetrics.Counter(
                label: label, dimensions: dimensions + [("operation", operation), ("errno", known ? name : "other")],
                factory: registry.factory)
            counters[key] = counter
            return counter
        }
        counter.increment()
    }
}
