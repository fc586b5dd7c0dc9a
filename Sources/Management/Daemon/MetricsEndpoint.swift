import CoreMetrics
import Logging
import MortarCore
import MortarManagementAPI
import MortarMetrics
import MortarSecurity
import MortarTransport
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
