import CoreMetrics
import MortarCore
import Prometheus

/// One process's metrics: made through swift-metrics (`Counter`, `Timer`, `Gauge` with this registry's
/// ``factory``), kept by swift-prometheus, read out in Prometheus's text format by ``exposition()``.
///
/// A registry per process part rather than the global `MetricsSystem`: a test, or a process that runs several
/// bricks' worth of code, keeps its counts apart without a bootstrap that can happen only once.
public final class MetricsRegistry: Sendable {
    let registry: PrometheusCollectorRegistry
    /// Hands swift-metrics' types their swift-prometheus storage. Duration histograms get buckets from 50 µs to 10 s:
    /// a cached brick operation takes tens of microseconds, a cold one milliseconds.
    public let factory: PrometheusMetricsFactory

    public init() {
        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = MetricsRegistry.durationBuckets
        self.factory = factory
    }

    public static let durationBuckets: [Duration] = [
        .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1),
        .microseconds(2500), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(100),
        .milliseconds(250), .seconds(1), .seconds(10),
    ]

    /// Everything registered, in Prometheus's text format, each family with its `# HELP` from ``MetricCatalog``.
    public func exposition() -> String {
        var merged = Exposition()
        // The registry writes well-formed text; a failure here would be a registry bug, and leaves the families
        // parsed so far (the rest of the scrape still answers).
        try? merged.add(registry.emitToString(), from: "this process")
        return merged.rendered()
    }
}
