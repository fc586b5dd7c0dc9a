import Foundation
import MortarCore
import Synchronization

/// Latencies of one workload, collected from many tasks. Bounded: at most `samplesMax` are kept (the count is
/// exact; percentiles come from the first samples, which at this bound cover minutes of 4 KiB I/O).
final class LatencyRecorder: Sendable {
    static let samplesMax = 4_000_000
    private let state = Mutex<(count: Int, samples: [Int64])>((0, []))

    func record(_ duration: Duration) {
        let nanoseconds = duration.nanosecondCount
        state.withLock { state in
            state.count += 1
            if state.samples.count < Self.samplesMax { state.samples.append(nanoseconds) }
        }
    }

    var count: Int { state.withLock { $0.count } }

    func result(workload: String, target: String, bytes: UInt64, elapsed: Duration) -> BenchResult {
        let (count, samples) = state.withLock { ($0.count, $0.samples.sorted()) }
        func percentile(_ fraction: Double) -> Double {
            guard !samples.isEmpty else { return 0 }
            return Double(samples[min(samples.count - 1, Int(Double(samples.count) * fraction))]) / 1000
        }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return BenchResult(
            workload: workload, target: target, bytes: bytes, operations: count, seconds: seconds,
            latencyP50Microseconds: percentile(0.50), latencyP99Microseconds: percentile(0.99))
    }
}

enum BenchReport {
    static func table(_ results: [BenchResult]) -> String {
        var lines = [
            "| workload | target | MB/s | IOPS | p50 µs | p99 µs | mortar/local |",
            "|---|---|---:|---:|---:|---:|---:|",
        ]
        for result in results {
            let local = results.first { $0.workload == result.workload && $0.target == "local" }
            let ratio = result.target == "local" ? "" : local.map { format(result.megabytesPerSecond / $0.megabytesPerSecond) + "×" } ?? ""
            lines.append(
                "| \(result.workload) | \(result.target) | \(format(result.megabytesPerSecond)) | "
                    + "\(Int(result.operationsPerSecond)) | \(format(result.latencyP50Microseconds)) | "
                    + "\(format(result.latencyP99Microseconds)) | \(ratio) |")
        }
        let depth1 = results.first { $0.workload == "rand-read-4KiB-qd1" && $0.target == "mortar" }
        let depth32 = results.first { $0.workload == "rand-read-4KiB-qd32" && $0.target == "mortar" }
        if let depth1, let depth32 {
            lines.append("")
            lines.append("Pipelining: 4 KiB random read through the library at queue depth 32 ran at "
                + format(depth32.operationsPerSecond / depth1.operationsPerSecond) + "× queue depth 1.")
        }
        return lines.joined(separator: "\n")
    }

    static func json(_ results: [BenchResult]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(results), as: UTF8.self)
    }

    static func format(_ value: Double) -> String { String(format: "%.2f", value) }
}
