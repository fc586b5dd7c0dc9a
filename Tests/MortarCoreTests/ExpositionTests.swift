import MortarCore
import MortarMetrics
import Testing

/// Several processes' expositions merge into one valid scrape: each family once, samples of all sources under
/// it, help from the catalog; malformed or oversized input is refused with the line that was wrong.
@Suite("Metrics exposition")
struct ExpositionTests {
    static let brick0 = """
        # TYPE mortar_brick_operations_total counter
        mortar_brick_operations_total{brick="0",operation="write"} 5
        # TYPE mortar_brick_operation_duration_seconds histogram
        mortar_brick_operation_duration_seconds_bucket{brick="0",le="0.001"} 4
        mortar_brick_operation_duration_seconds_bucket{brick="0",le="+Inf"} 5
        mortar_brick_operation_duration_seconds_sum{brick="0"} 0.01
        mortar_brick_operation_duration_seconds_count{brick="0"} 5

        """
    static let brick1 = """
        # HELP mortar_brick_operations_total Their own words.
        # TYPE mortar_brick_operations_total counter
        mortar_brick_operations_total{brick="1",operation="write"} 7
        # TYPE something_else gauge
        something_else 1

        """

    @Test func familiesOfSeveralSourcesAreJoined() throws {
        var merged = Exposition()
        try merged.add(Self.brick0, from: "brick 0")
        try merged.add(Self.brick1, from: "brick 1")
        let text = merged.rendered()
        #expect(merged.familyNames == [
            "mortar_brick_operations_total", "mortar_brick_operation_duration_seconds", "something_else",
        ])
        #expect(text.components(separatedBy: "# TYPE mortar_brick_operations_total counter").count == 2)
        #expect(text.contains("mortar_brick_operations_total{brick=\"0\",operation=\"write\"} 5\nmortar_brick_operations_total{brick=\"1\",operation=\"write\"} 7\n"))
        // Help: the catalog's where the source gave none, the source's own where it did.
        #expect(text.contains("# HELP mortar_brick_operation_duration_seconds \(MetricCatalog.help["mortar_brick_operation_duration_seconds"]!)\n"))
        #expect(text.contains("# HELP mortar_brick_operations_total Their own words.\n"))
        #expect(!text.contains("# HELP something_else"))
        #expect(merged.conflicts == 0)
    }

    @Test func aFamilyOfAnotherTypeIsDroppedAndCounted() throws {
        var merged = Exposition()
        try merged.add(Self.brick0, from: "brick 0")
        try merged.add("# TYPE mortar_brick_operations_total gauge\nmortar_brick_operations_total 1\n", from: "odd")
        #expect(merged.conflicts == 1)
        #expect(!merged.rendered().contains("mortar_brick_operations_total 1"))
    }

    @Test func malformedTextIsRefusedWithItsLine() {
        let cases: [(String, String)] = [
            ("# TYPE ok counter\nok 1\nnot a sample\n", "line 3"),
            ("orphan 1\n", "follows no TYPE line"),
            ("# TYPE a counter\nb 1\n", "follows no TYPE line"),
            ("# TYPE 9bad counter\n", "is not a metric name"),
            ("# TYPE a widget\n", "a TYPE line needs one of"),
            ("# TYPE a counter\n# TYPE a gauge\n", "declared twice"),
        ]
        for (text, expected) in cases {
            var merged = Exposition()
            do {
                try merged.add(text, from: "a brick")
                Issue.record("accepted \(text.debugDescription)")
            } catch {
                #expect(error.code == .invalidArgument && error.message.contains(expected), "\(error.message)")
                #expect(error.message.contains("a brick"))
            }
        }
    }

    @Test func aScrapeIsBounded() throws {
        var merged = Exposition()
        let line = "x_total{label=\"\(String(repeating: "v", count: 1000))\"} 1\n"
        let big = "# TYPE x_total counter\n" + String(repeating: line, count: Limits.metricsExpositionByteCountMax / line.utf8.count + 1)
        #expect(throws: FileSystemError.self) { try merged.add(big, from: "a flood") }
        try merged.add(Self.brick0, from: "brick 0")  // what was refused took no room
        #expect(merged.familyNames.count == 2)
    }

    @Test func errnoNamesAreSymbolic() {
        #expect(FileSystemError.Code.notFound.symbolicName == "ENOENT")
        #expect(FileSystemError.Code.membershipChanged.symbolicName == "EREMCHG")
    }

    /// Error counters stay bounded whatever errnos a peer sends: every errno without a name is one series.
    @Test func unnamedErrnosShareOneSeries() {
        let registry = MetricsRegistry()
        let errors = ErrorCounters(label: "mortar_client_operation_errors_total", dimensions: [("volume", "v")], registry: registry)
        errors.increment(operation: "read", code: .notFound)
        for number in 5_000..<7_000 { errors.increment(operation: "read", code: FileSystemError.Code(rawValue: Int32(number))) }
        let lines = registry.exposition().split(separator: "\n").filter { $0.hasPrefix("mortar_client_operation_errors_total{") }
        #expect(lines.count == 2, "\(lines)")
        #expect(lines.contains { $0.contains("errno=\"ENOENT\"") && $0.hasSuffix(" 1") }, "\(lines)")
        #expect(lines.contains { $0.contains("errno=\"other\"") && $0.hasSuffix(" 2000") }, "\(lines)")
    }
}
