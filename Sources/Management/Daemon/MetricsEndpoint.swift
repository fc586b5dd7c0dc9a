import CoreMetrics
import Logging
import MortarCatalog
import MortarCore
import MortarManagementAPI
import MortarMetrics
import MortarSecurity
import MortarTransport
import MortarVolumeSpec
import MortarWire
import NIOCore
import NIOHTTP1
import Synchronization

/// `GET /metrics` on the daemon's `--metrics-listen` address: the daemon's own metrics and those of every brick
/// it runs, asked for at each scrape (a ``ControlRequest/metrics`` over a brick connection, each bounded by
/// `Limits.metricsBrickScrapeMilliseconds`), merged into one exposition (``Exposition``).
///
/// A brick that does not answer in time, or answers something that is not a valid exposition, is left out of
/// that scrape and counted in `mortar_daemon_brick_scrape_errors_total`: one sick brick never blanks the host's
/// metrics. Plain HTTP, like every Prometheus exporter; the address is the operator's choice, and nothing is
/// served unless one is set.
struct MetricsEndpoint: HTTPResponder {
    let metrics: DaemonMetrics
    let supervisor: BrickSupervisor
    /// Where the rebalances' progress is read (exported by the daemon holding the manager role only, so a
    /// cluster's series are not repeated by every host).
    let manager: Manager
    let security: TransportSecurity
    let eventLoopGroup: any EventLoopGroup
    let logger: Logger

    func respond(method: HTTPMethod, uri: String, body: ByteBuffer, identity: PeerIdentity?) async -> Response {
        await ExpositionResponder { await scrape() }.respond(method: method, uri: uri, body: body, identity: identity)
    }

    func failure(_ error: any Error) -> Response {
        ExpositionResponder { "" }.failure(error)
    }

    /// The daemon's metrics and its bricks', merged.
    func scrape() async -> String {
        let bricks = await supervisor.bricks()
        metrics.observe(bricks: bricks)
        if manager.role.isHeld {
            metrics.observe(rebalances: await manager.refresh().volumes.compactMap { volume in
                volume.rebalance.map { (volume.name, $0) }
            })
        }
        let host = await supervisor.brickHost
        let texts = await withTaskGroup(of: (AgentBrick, Result<String, any Error>).self) { group in
            for (brick, isRunning) in bricks where isRunning {
                group.addTask { (brick, await scrape(brick, host: host)) }
            }
            var texts: [(AgentBrick, Result<String, any Error>)] = []
            for await text in group { texts.append(text) }
            return texts.sorted { ($0.0.volume, $0.0.index) < ($1.0.volume, $1.0.index) }
        }
        var merged = Exposition()
        for (brick, text) in texts {
            do {
                try merged.add(try text.get(), from: "brick \(brick.index) of volume \(brick.volume)")
            } catch {
                metrics.scrapeFailed(brick)
                logger.notice(
                    "left a brick's metrics out of a scrape",
                    metadata: ["volume": "\(brick.volume)", "brick": "\(brick.index)", "reason": "\(error)"])
            }
        }
        // The daemon's own last: they include this scrape's failures.
        do {
            try merged.add(metrics.registry.exposition(), from: "the daemon")
        } catch {
            logger.error("the daemon's own metrics did not parse", metadata: ["reason": "\(error)"])
        }
        return merged.rendered()
    }

    /// One brick's exposition, within `Limits.metricsBrickScrapeMilliseconds`.
    private func scrape(_ brick: AgentBrick, host: String) async -> Result<String, any Error> {
        do {
            let reply = try await BrickConnection.callOnce(
                .control(.metrics), to: .tcp(host: host, port: brick.port), clientName: "mortar-daemon/metrics",
                security: security, eventLoopGroup: eventLoopGroup,
                within: .milliseconds(Limits.metricsBrickScrapeMilliseconds))
            guard case .metrics(let text) = try reply.control() else {
                throw FileSystemError.protocolError("a metrics request was answered without metrics")
            }
            return .success(text)
        } catch {
            return .failure(error)
        }
    }
}

/// The daemon's own metrics.
final class DaemonMetrics: Sendable {
    let registry = MetricsRegistry()
    private let running: CoreMetrics.Meter
    private let stopped: CoreMetrics.Meter
    private let scrapeErrors = Mutex<[String: CoreMetrics.Counter]>([:])
    /// Volume → its rebalance gauges.
    private let rebalances = Mutex<[String: RebalanceGauges]>([:])

    struct RebalanceGauges {
        var running: CoreMetrics.Meter
        var files: [String: CoreMetrics.Meter]
        var bytes: CoreMetrics.Meter
        var seconds: CoreMetrics.Meter
    }

    init() {
        running = CoreMetrics.Meter(
            label: "mortar_daemon_bricks", dimensions: [("state", "running")], factory: registry.factory)
        stopped = CoreMetrics.Meter(
            label: "mortar_daemon_bricks", dimensions: [("state", "stopped")], factory: registry.factory)
    }

    func observe(bricks: [(brick: AgentBrick, isRunning: Bool)]) {
        let up = bricks.filter(\.isRunning).count
        running.set(up)
        stopped.set(bricks.count - up)
    }

    /// Sets each volume's rebalance gauges from its record in the catalog.
    func observe(rebalances records: [(volume: String, record: RebalanceRecord)]) {
        rebalances.withLock { gauges in
            for (volume, record) in records {
                let factory = registry.factory
                let meter = { (label: String, extra: [(String, String)]) in
                    CoreMetrics.Meter(label: label, dimensions: [("volume", volume)] + extra, factory: factory)
                }
                let set = gauges[volume] ?? RebalanceGauges(
                    running: meter("mortar_rebalance_running", []),
                    files: Dictionary(uniqueKeysWithValues: ["scanned", "moved", "skipped", "failed"].map {
                        ($0, meter("mortar_rebalance_files", [("outcome", $0)]))
                    }),
                    bytes: meter("mortar_rebalance_moved_bytes", []), seconds: meter("mortar_rebalance_seconds", []))
                gauges[volume] = set
                let counters = record.progress.counters
                set.running.set(record.state == .inProgress ? 1 : 0)
                set.files["scanned"]?.set(Double(counters.scannedFiles))
                set.files["moved"]?.set(Double(counters.movedFiles))
                set.files["skipped"]?.set(Double(counters.skippedFiles))
                set.files["failed"]?.set(Double(counters.failedFiles))
                set.bytes.set(Double(counters.movedBytes))
                set.seconds.set(counters.elapsedSeconds)
            }
        }
    }

    func scrapeFailed(_ brick: AgentBrick) {
        let key = "\(brick.volume)/\(brick.index)"
        scrapeErrors.withLock { counters in
            let counter =
                counters[key]
                ?? CoreMetrics.Counter(
                    label: "mortar_daemon_brick_scrape_errors_total",
                    dimensions: [("volume", brick.volume), ("brick", "\(brick.index)")], factory: registry.factory)
            counters[key] = counter
            counter.increment()
        }
    }
}
