import MortarCore
import MortarVolumeSpec

/// A volume's rebalance as the catalog records it, so that it survives a stop, a daemon restart and a manager
/// failover: whichever daemon holds the manager role runs it from ``progress``.
public struct RebalanceRecord: Codable, Sendable, Hashable {
    public var state: RebalanceState
    public var progress: RebalanceProgress
    /// Bumped by every start (and by an add-brick during a run): a runner reports under the run it was given, and
    /// a report for another run is refused, so a runner that lost the manager role cannot write over its successor.
    public var run: Int
    /// Why it failed, for `state == .failed`.
    public var failure: String?

    public init(state: RebalanceState, progress: RebalanceProgress, run: Int, failure: String? = nil) {
        self.state = state
        self.progress = progress
        self.run = run
        self.failure = failure
    }
}

extension Catalog {
    /// `rebalance VOL start`: a new crawl, or the one that stopped or failed resumed from its cursor. Refused for a
    /// volume that is not started, or whose rebalance is in progress already.
    mutating func startRebalance(volume name: String) throws(FileSystemError) -> [CatalogDirective] {
        var volume = try existingVolume(name)
        guard volume.state == .started else {
            throw FileSystemError(.notConnected, "volume \(name) is not started; start it before rebalancing")
        }
        let run = (volume.rebalance?.run ?? 0) + 1
        switch volume.rebalance?.state {
        case .inProgress?:
            throw FileSystemError(.alreadyInProgress, "a rebalance of volume \(name) is already in progress")
        case .stopped?, .failed?:
            // Resumed where it was: what it moved stays moved and counted.
            volume.rebalance?.state = .inProgress
            volume.rebalance?.run = run
            volume.rebalance?.failure = nil
        case .completed?, nil:
            volume.rebalance = RebalanceRecord(state: .inProgress, progress: RebalanceProgress(), run: run)
        }
        replace(volume)
        return [.persist]
    }

    /// `rebalance VOL stop`: the runner stops at its next report; `start` resumes from there.
    mutating func stopRebalance(volume name: String) throws(FileSystemError) -> [CatalogDirective] {
        var volume = try existingVolume(name)
        guard volume.rebalance?.state == .inProgress else {
            throw FileSystemError.invalidArgument("no rebalance of volume \(name) is in progress")
        }
        volume.rebalance?.state = .stopped
        replace(volume)
        return [.persist]
    }

    /// A runner's report: progress of run `run`, and the state it ended in (or `.inProgress` while it runs). A
    /// run that was stopped still records its progress (so `start` resumes right after what it did) but stays
    /// stopped; the runner learns from the state (``Manager``) that it must end. ECANCELED when `run` is no longer
    /// the volume's run (restarted, or the volume gone). Progress does not bump the catalog's version: nothing a
    /// client follows changed.
    mutating func recordRebalance(
        volume name: String, run: Int, progress: RebalanceProgress, state: RebalanceState, failure: String?
    ) throws(FileSystemError) -> [CatalogDirective] {
        var volume = try existingVolume(name)
        guard let record = volume.rebalance, record.run == run, [.inProgress, .stopped].contains(record.state) else {
            throw FileSystemError(.canceled, "the rebalance of volume \(name) (run \(run)) was restarted or has ended")
        }
        let stopped = record.state == .stopped
        volume.rebalance = RebalanceRecord(
            state: stopped ? .stopped : state, progress: progress, run: run, failure: stopped ? nil : failure)
        replaceVolumes(volumes.map { $0.name == volume.name ? volume : $0 })
        return [.persist]
    }

    /// After an add-brick: a rebalance in progress starts its crawl again under the new layout (a new run, so its
    /// runner restarts); its counters stay.
    static func restartRebalance(of volume: inout Volume) {
        guard var record = volume.rebalance, record.state == .inProgress else { return }
        record.run += 1
        record.progress.cursor = []
        volume.rebalance = record
    }

    /// After `volume stop`: a rebalance in progress stops (its bricks are going).
    static func stopRebalance(of volume: inout Volume) {
        guard volume.rebalance?.state == .inProgress else { return }
        volume.rebalance?.state = .stopped
    }
}
