import Foundation
import Mortar
import MortarCore
import MortarTesting
import Testing

/// The daemon's `/metrics` with real processes: what a known workload did shows in the scrape of the daemon and
/// its bricks, the scrape passes `promtool check metrics`, and a real Prometheus server scraping the daemon
/// answers queries over it with the workload's numbers. promtool and prometheus come from Debian's `prometheus`
/// package (`scripts/install-deps.sh`); without them these tests fail, they do not skip.
@Suite("Metrics with real processes", .serialized)
struct MetricsTests {
    static let writes = 25

    /// A daemon with metrics, a one-brick volume, and `writes` 4 KiB writes to one file through the library.
    static func clusterWithWorkload() async throws -> ProcessCluster {
        let cluster = try ProcessCluster(metrics: true)
        try await cluster.startDaemon()
        let brick = try cluster.makeBrickDirectory("counted")
        try await cluster.expectSuccess("volume", "create", "counted", "127.0.0.1:" + brick)
        try await cluster.expectSuccess("volume", "start", "counted")
        try await waitUntil("the brick is online", seconds: 60) {
            try await cluster.brickProcesses("counted").allSatisfy(\.online)
        }
        let volume = try await cluster.connect("counted")
        let file = try await volume.create("/counted")
        for index in 0..<writes {
            _ = try await file.write(Array(repeating: 0x62, count: 4096), at: UInt64(index * 4096))
        }
        try await file.close()
        await volume.close()
        return cluster
    }

    static func run(_ program: String, _ arguments: [String], input: String? = nil) throws -> CommandResult {
        try ProcessCluster.runProgram(program, arguments, input: input)
    }

    static func scrape(_ cluster: ProcessCluster) throws -> String {
        let port = try #require(cluster.metricsPort)
        let result = try run("/usr/bin/curl", ["-sS", "--max-time", "30", "http://127.0.0.1:\(port)/metrics"])
        try #require(result.succeeded, "curl of /metrics failed: \(result.error)")
        return result.output
    }

    @Test func aScrapeCountsTheWorkloadAndPassesPromtool() async throws {
        let cluster = try await Self.clusterWithWorkload()
        let text = try Self.scrape(cluster)
        let write = ["volume": "counted", "operation": "write"]
        #expect(Self.value(text, "mortar_brick_operations_total", write) == Double(Self.writes))
        #expect(Self.value(text, "mortar_brick_written_bytes_total", ["volume": "counted"]) == Double(Self.writes * 4096))
        #expect(Self.value(text, "mortar_brick_operation_duration_seconds_count", write) == Double(Self.writes))
        #expect(Self.value(text, "mortar_daemon_bricks", ["state": "running"]) == 1)
        let checked = try Self.run("/usr/bin/promtool", ["check", "metrics"], input: text)
        #expect(checked.succeeded, "promtool check metrics: \(checked.output) \(checked.error)")

        // A hung brick is left out of the scrape and counted; the scrape still answers (bounded per brick).
        let pid = try #require(try await cluster.brickProcesses("counted").first?.pid)
        kill(pid, SIGSTOP)
        let started = ContinuousClock.now
        let withoutBrick = try Self.scrape(cluster)
        kill(pid, SIGCONT)
        print("a scrape with a stopped brick answered in \(ContinuousClock.now - started)")
        #expect(Self.value(withoutBrick, "mortar_daemon_brick_scrape_errors_total", ["volume": "counted", "brick": "0"]) == 1)
        #expect(!withoutBrick.contains("mortar_brick_operations_total{"), "a stopped brick's metrics were in the scrape")
        let stillValid = try Self.run("/usr/bin/promtool", ["check", "metrics"], input: withoutBrick)
        #expect(stillValid.succeeded, "promtool check metrics: \(stillValid.output) \(stillValid.error)")
        await cluster.tearDown()
    }

    @Test func prometheusScrapesTheDaemon() async throws {
        let cluster = try await Self.clusterWithWorkload()
        let port = try #require(cluster.metricsPort)
        let prometheusPort = try ProcessCluster.freePort()
        let directory = cluster.directory + "/prometheus"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let configuration = """
            global:
              scrape_interval: 1s
            scrape_configs:
              - job_name: mortar
                static_configs:
                  - targets: ['127.0.0.1:\(port)']

            """
        try configuration.write(toFile: directory + "/prometheus.yml", atomically: true, encoding: .utf8)
        let server = try Subprocess.start(
            "/usr/bin/prometheus",
            [
                "--config.file=\(directory)/prometheus.yml", "--storage.tsdb.path=\(directory)/data",
                "--web.listen-address=127.0.0.1:\(prometheusPort)",
            ],
            output: .file(directory + "/log"))
        defer {
            server.terminate()
            server.waitUntilExit()
        }
        // Prometheus's own answer, through its HTTP API: the workload's writes, summed over the volume's bricks.
        let started = ContinuousClock.now
        var answered: Double?
        try await waitUntil("Prometheus has scraped the workload (see \(directory)/log)", seconds: 120) {
            answered = try Self.query(
                prometheusPort, "sum(mortar_brick_operations_total{volume=\"counted\",operation=\"write\"})")
            return answered == Double(Self.writes)
        }
        print("Prometheus answered \(answered ?? -1) writes \(ContinuousClock.now - started) after it started")
        #expect(try Self.query(prometheusPort, "sum(mortar_brick_written_bytes_total{volume=\"counted\"})") == Double(Self.writes * 4096))
        #expect(try Self.query(
            prometheusPort, "sum(mortar_brick_operation_duration_seconds_count{volume=\"counted\",operation=\"write\"})")
            == Double(Self.writes))
        // A histogram Prometheus can take a quantile of: some finite latency.
        let p99 = try Self.query(
            prometheusPort,
            "histogram_quantile(0.99, sum by (le) (mortar_brick_operation_duration_seconds_bucket{volume=\"counted\",operation=\"write\"}))")
        #expect(p99.map { $0 > 0 && $0.isFinite } == true, "p99 of writes: \(String(describing: p99))")
        await cluster.tearDown()
    }

    /// Each member of a replica-3 set reports the set's view (three in sync, one epoch) and what it has
    /// recorded to heal (nothing, in a whole set).
    @Test func replicaMembersReportTheirView() async throws {
        let cluster = try ProcessCluster(metrics: true)
        try await cluster.startDaemon()
        let bricks = try (1...3).map { try cluster.makeBrickDirectory("r\($0)") }
        try await cluster.expectSuccess(["volume", "create", "mirrored", "replica", "3"] + bricks.map { "127.0.0.1:" + $0 } + ["--force"])
        try await cluster.expectSuccess("volume", "start", "mirrored")
        var text = ""
        try await waitUntil("every member reports three members in sync", seconds: 90) {
            text = try Self.scrape(cluster)
            return (0..<3).allSatisfy { brick in
                Self.value(text, "mortar_replica_set_members", ["volume": "mirrored", "brick": "\(brick)", "state": "in-sync"]) == 3
            }
        }
        // Every change is forwarded by its primary to the two other members: each forward is timed.
        let volume = try await cluster.connect("mirrored")
        let file = try await volume.create("/forwarded")
        for index in 0..<10 { _ = try await file.write(Array(repeating: 0x63, count: 4096), at: UInt64(index * 4096)) }
        try await file.close()
        await volume.close()
        text = try Self.scrape(cluster)
        let forwards = text.split(separator: "\n")
            .filter { $0.hasPrefix("mortar_replica_forward_duration_seconds_count{") && $0.contains("volume=\"mirrored\"") }
            .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }
            .reduce(0, +)
        #expect(forwards >= 22, "10 writes and a create, each forwarded to two members, counted \(forwards) forwards")
        let epochs = Set((0..<3).compactMap { Self.value(text, "mortar_replica_member_epoch", ["volume": "mirrored", "brick": "\($0)"]) })
        #expect(epochs.count == 1 && (epochs.first ?? 0) >= 1, "members report epochs \(epochs)")
        for brick in 0..<3 {
            for member in 0..<3 where member != brick {
                let labels = ["volume": "mirrored", "brick": "\(brick)", "for_member": "\(member)"]
                #expect(Self.value(text, "mortar_heal_pending_files", labels) == 0)
            }
        }
        let checked = try Self.run("/usr/bin/promtool", ["check", "metrics"], input: text)
        #expect(checked.succeeded, "promtool check metrics: \(checked.output) \(checked.error)")
        await cluster.tearDown()
    }

    /// `mortar mount -o metrics=HOST:PORT` serves the mount's client metrics while it lives: a file written through
    /// the mount shows in them, and the text passes promtool.
    @Test func aMountServesItsClientMetrics() async throws {
        let port = try ProcessCluster.freePort()
        try await MountedVolume.with(bricks: 1, options: ["metrics=127.0.0.1:\(port)"]) { mounted in
            let data = Data(repeating: 0x6d, count: 1 << 20)
            try data.write(to: URL(fileURLWithPath: mounted.mountPoint + "/metered"))
            let result = try Self.run("/usr/bin/curl", ["-sS", "--max-time", "30", "http://127.0.0.1:\(port)/metrics"])
            try #require(result.succeeded, "curl of the mount's /metrics failed: \(result.error)")
            let text = result.output
            #expect((Self.value(text, "mortar_client_written_bytes_total", ["volume": "fuse"]) ?? 0) >= Double(1 << 20), "\(text)")
            #expect((Self.value(text, "mortar_client_operations_total", ["volume": "fuse", "operation": "create"]) ?? 0) >= 1)
            #expect(Self.value(text, "mortar_client_operation_duration_seconds_count", ["operation": "write"]) != nil)
            let checked = try Self.run("/usr/bin/promtool", ["check", "metrics"], input: text)
            #expect(checked.succeeded, "promtool check metrics: \(checked.output) \(checked.error)")
        }
        // The option is checked before anything is mounted.
        let cluster = try ProcessCluster()
        let result = try await cluster.run("mount", "-o", "metrics=nowhere", "127.0.0.1:/none", "/tmp")
        #expect(!result.succeeded && result.error.contains("needs HOST:PORT"), "\(result.error)")
        await cluster.tearDown()
    }

    /// The value of an instant query's one result, or nil while there is none.
    static func query(_ port: Int, _ expression: String) throws -> Double? {
        let result = try run(
            "/usr/bin/curl", ["-sS", "--max-time", "10", "-G", "http://127.0.0.1:\(port)/api/v1/query",
                              "--data-urlencode", "query=\(expression)"])
        guard result.succeeded, let data = result.output.data(using: .utf8),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let payload = object["data"] as? [String: Any], let results = payload["result"] as? [[String: Any]],
            let first = results.first, let value = first["value"] as? [Any], value.count == 2,
            let text = value[1] as? String
        else { return nil }  // not up yet, or no sample yet: the caller asks again
        return Double(text)
    }

    /// The value of the sample of `family` whose labels include `labels`.
    static func value(_ text: String, _ family: String, _ labels: [String: String]) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(family + "{") {
            guard labels.allSatisfy({ line.contains("\($0.key)=\"\($0.value)\"") }) else { continue }
            return line.split(separator: " ").last.flatMap { Double($0) }
        }
        return nil
    }
}
