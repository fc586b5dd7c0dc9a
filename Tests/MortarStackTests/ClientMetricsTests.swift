import Foundation
import Mortar
import MortarCore
import MortarMeter
import MortarTesting
import NIOCore
import Testing

/// The client's meter: a known workload through a volume whose stack has the meter on top shows in the client's
/// exposition exactly — by operation, by errno, in bytes — and the text is a valid exposition (`promtool`).
@Suite("Client metrics")
struct ClientMetricsTests {
    @Test func aKnownWorkloadShowsInTheClientsMetrics() async throws {
        let metrics = ClientMetrics(volume: "metered")
        let volume = Volume(stack: MeterLayer(next: MemoryFileSystem(), metrics: metrics), name: "metered")
        let writes = 23
        let file = try await volume.create("/counted")
        for index in 0..<writes { _ = try await file.write(Array(repeating: 0x61, count: 4096), at: UInt64(index * 4096)) }
        let read = try await file.read(count: 10_000, at: 0)
        #expect(read.readableBytes == 10_000)
        try await file.close()
        for _ in 0..<3 {
            await #expect(throws: FileSystemError.self) { _ = try await volume.attributes("/absent") }
        }
        await volume.close()

        let text = metrics.exposition()
        let value = { (family: String, labels: [String: String]) in BrickMetricsTests.value(text, family, labels) }
        #expect(value("mortar_client_operations_total", ["volume": "metered", "operation": "write"]) == Double(writes))
        #expect(value("mortar_client_operation_duration_seconds_count", ["operation": "write"]) == Double(writes))
        #expect(value("mortar_client_written_bytes_total", ["volume": "metered"]) == Double(writes * 4096))
        // A read goes through the volume's read-ahead, which may ask for more than the application did.
        let bytesRead = try #require(value("mortar_client_read_bytes_total", ["volume": "metered"]))
        #expect(bytesRead >= 10_000 && bytesRead <= Double(writes * 4096), "\(bytesRead)")
        #expect(value("mortar_client_operation_errors_total", ["operation": "lookup", "errno": "ENOENT"]) == 3)
        #expect(value("mortar_client_requests_in_flight", ["volume": "metered"]) == 0)
        let checked = try Subprocess.run("/usr/bin/promtool", ["check", "metrics"], input: text)
        #expect(checked.status == 0, "promtool check metrics: \(checked.output) \(checked.error)")
    }
}
