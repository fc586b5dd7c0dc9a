import Logging
import MortarCatalog
import MortarCore
import MortarSecurity
import MortarVolumeSpec

/// What runs one rebalance: a client of the volume that crawls it and moves files (`VolumeGraph.rebalance` in
/// the `mortar` binary). The daemon module does not build client stacks; the binary passes this in.
public protocol VolumeRebalancing: Sendable {
    /// Runs the rebalance of `volume` from `progress` to its end and returns the final progress. `daemon` is this
    /// daemon's management API (where the volume's spec is fetched), `security` its host identity. `report`
    /// stores progress; when it throws (stopped, manager role lost) the run ends with that error.
    func rebalance(
        volume: String, daemon: (host: String, port: Int), security: TransportSecurity, throttle: RebalanceThrottle,
        from progress: RebalanceProgress, report: @escaping @Sendable (RebalanceProgress) async throws -> Void
    ) async throws -> RebalanceProgress
}

/// Runs the rebalances the catalog says are in progress, on the daemon that holds the manager role. Every
/// `Limits.rebalanceProgressMilliseconds` it looks at the catalog and starts a runner for each rebalance in
/// progress that has none here; a runner ends by itself when its report is refused (the rebalance was stopped,
/// restarted by an add-brick, or this daemon lost the manager role), so the next manager resumes it from the
/// progress stored last.
actor RebalanceWorker {
    private let manager: Manager
    private let rebalancer: (any VolumeRebalancing)?
    private let logger: Logger
    /// Volume → the run a runner of this daemon is carrying out.
    private var running: [String: Int] = [:]

    init(manager: Manager, rebalancer: (any VolumeRebalancing)?, logger: Logger) {
        self.manager = manager
        self.rebalancer = rebalancer
        self.logger = logger
    }

    /// Looks for rebalances to run until cancelled; runners are children of this task, cancelled with it.
    func run() async {
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled {
                for job in await due() {
                    group.addTask { await self.carryOut(job) }
                }
                // Cancelled: the sleep ends at once and the loop with it.
                try? await Task.sleep(for: .milliseconds(Limits.rebalanceProgressMilliseconds))
            }
            group.cancelAll()
        }
    }

    struct Job: Sendable {
        var volume: String
        var run: Int
        var progress: RebalanceProgress
        var throttle: RebalanceThrottle
    }

    /// The rebalances in progress that no runner of this daemon carries out, when this daemon is the manager.
    private func due() async -> [Job] {
        guard manager.role.isHeld else { return [] }
        let catalog = await manager.refresh()
        var jobs: [Job] = []
        for volume in catalog.volumes where volume.state == .started {
            guard let record = volume.rebalance, record.state == .inProgress, running[volume.name] != record.run
            else { continue }
            let throttle = RebalanceThrottle(rawValue: volume.options["cluster.rebal-throttle"] ?? "") ?? .normal
            running[volume.name] = record.run
            jobs.append(Job(volume: volume.name, run: record.run, progress: record.progress, throttle: throttle))
        }
        return jobs
    }

    private func finished(_ job: Job) {
        if running[job.volume] == job.run { running[job.volume] = nil }
    }

    private func carryOut(_ job: Job) async {
        defer { finished(job) }
        let manager = manager
        let (volume, run) = (job.volume, job.run)
        logger.info("rebalance running", metadata: [
            "volume": "\(volume)", "run": "\(run)", "resumingAfter": "/\(job.progress.cursor.joined(separator: "/"))",
        ])
        guard let rebalancer else {
            await record(job, job.progress, .failed, "this daemon was started without a rebalancer")
            return
        }
        do {
            let final = try await rebalancer.rebalance(
                volume: volume, daemon: await manager.ownAddress, security: manager.security, throttle: job.throttle,
                from: job.progress
            ) { progress in
                try await manager.recordRebalance(volume: volume, run: run, progress: progress, state: .inProgress)
            }
            await record(job, final, .completed, nil)
            logger.info("rebalance completed", metadata: [
                "volume": "\(volume)", "moved": "\(final.counters.movedFiles)", "skipped": "\(final.counters.skippedFiles)",
                "failed": "\(final.counters.failedFiles)",
            ])
        } catch let error as FileSystemError where error.code == .canceled {
            logger.info("rebalance run ended: \(error.message)", metadata: ["volume": "\(volume)", "run": "\(run)"])
        } catch is CancellationError {
            logger.info("rebalance run ended with the daemon", metadata: ["volume": "\(volume)", "run": "\(run)"])
        } catch {
            let failure = FileSystemError.wrapping(error)
            logger.error("rebalance failed: \(failure)", metadata: ["volume": "\(volume)", "run": "\(run)"])
            await record(job, nil, .failed, failure.description)
        }
    }

    /// Stores how a run ended; the progress stored last stands when `progress` is nil.
    private func record(_ job: Job, _ progress: RebalanceProgress?, _ state: RebalanceState, _ failure: String?) async {
        do {
            var last = progress
            if last == nil {
                last = await manager.refresh(force: true).volume(named: job.volume)?.rebalance?.progress ?? job.progress
            }
            try await manager.recordRebalance(
                volume: job.volume, run: job.run, progress: last ?? job.progress, state: state, failure: failure)
        } catch {
            logger.warning("could not record that the rebalance of \(job.volume) is \(state.rawValue): \(error)")
        }
    }
}
