import MortarCore
import MortarVolumeSpec

/// A rebalance: one crawl of the whole volume that moves every file to the child the newest layout generation
/// places its name on (``Distribute/migrate(_:in:context:)``), resumable from where an earlier run stopped.
///
/// The crawl is depth first, each directory's names in byte order, so "done" is everything up to a cursor
/// (``RebalanceProgress/cursor``): a file's name once its move (or decision to leave it) is made, a directory's
/// once everything in it is. A run started from stored progress skips what is before the cursor without looking
/// at it, and enters only the directories on the cursor's path; files already moved are found in place anyway.
///
/// Files move `filesInFlight` at a time (``RebalanceThrottle``); the cursor passes a batch once all of it is
/// decided, so a run that dies mid-batch redoes at most that batch. Directories are looked up through the
/// distribute layer before they are entered, which makes them on children that joined since they were made.
public final class Rebalance {
    private let distribute: Distribute
    private let throttle: RebalanceThrottle
    private let context: OperationContext
    /// Stores progress; called at most once per `Limits.rebalanceProgressMilliseconds` while the crawl runs. An
    /// error it throws (the rebalance was stopped, the catalog is gone) ends the crawl with that error.
    private let report: @Sendable (RebalanceProgress) async throws -> Void
    private var progress: RebalanceProgress
    private let elapsedBefore: Double
    private let started = ContinuousClock.now
    private var reportedAt = ContinuousClock.now
    private let reportEvery: Duration
    /// Files this run skipped (open, or changing under their copy), to try again once the crawl is done; at most
    /// `Limits.rebalanceRetriesMax`, the rest wait for the next run.
    private var skipped: [(directory: FileID, name: String)] = []

    /// `reportEvery` is how often progress is reported at most (tests report after every batch).
    public init(
        distribute: Distribute, from progress: RebalanceProgress, throttle: RebalanceThrottle,
        context: OperationContext, reportEvery: Duration = .milliseconds(Limits.rebalanceProgressMilliseconds),
        report: @escaping @Sendable (RebalanceProgress) async throws -> Void
    ) {
        self.reportEvery = reportEvery
        self.distribute = distribute
        self.progress = progress
        self.throttle = throttle
        self.context = context
        self.report = report
        elapsedBefore = progress.counters.elapsedSeconds
    }

    /// Crawls from the stored cursor to the end; returns the final progress (the caller stores it and marks the
    /// rebalance completed). Cancellation ends it with CancellationError after the batch in flight.
    public func run() async throws -> RebalanceProgress {
        if progress.cursor.isEmpty, progress.counters.estimatedEntries == 0 {
            // A listing-only pass first, so that `status` can say how far along the moves are: listing is cheap
            // next to moving, and the bricks' used inodes (GlusterFS's estimate) count whatever shares their disk.
            progress.counters.estimatedEntries = max(1, try await countEntries(of: .root, path: []))
            try await report(progress)
            reportedAt = ContinuousClock.now
        }
        try await crawl(.root, path: [])
        try await retrySkipped()
        stamp()
        return progress
    }

    /// Tries the files the crawl skipped again, `Limits.rebalanceRetryRounds` times at most, a pause apart: a file
    /// open then may be closed now. What moves leaves the skipped count for the moved one. (Not stored: a run that
    /// dies here leaves them skipped, found where they are, for the next run.)
    private func retrySkipped() async throws {
        for _ in 0..<Limits.rebalanceRetryRounds where !skipped.isEmpty {
            try await Task.sleep(for: .milliseconds(Limits.rebalanceRetryPauseMilliseconds))
            var still: [(directory: FileID, name: String)] = []
            for file in skipped {
                try Task.checkCancellation()
                let outcome = await distribute.migrate(file.name, in: file.directory, context: context)
                switch outcome {
                case .skippedForNow:
                    still.append(file)
                    continue
                case .skipped:
                    continue  // for good this run: still counted as skipped
                case .moved(let bytes):
                    progress.counters.movedFiles += 1
                    progress.counters.movedBytes += bytes
                case .failed:
                    progress.counters.failedFiles += 1
                case .inPlace:
                    break  // moved or removed by someone else meanwhile
                }
                progress.counters.skippedFiles -= 1
                try await reportIfDue()
            }
            skipped = still
        }
    }

    private var filesInFlight: Int {
        switch throttle {
        case .lazy: Limits.rebalanceFilesInFlight.lazy
        case .normal: Limits.rebalanceFilesInFlight.normal
        case .aggressive: Limits.rebalanceFilesInFlight.aggressive
        }
    }

    private func crawl(_ directory: FileID, path: [String]) async throws {
        try Task.checkCancellation()
        let entries = try await listing(of: directory, path: path)
        if !progress.isOnCursorPath(path) { progress.counters.scannedDirectories += 1 }
        var batch: [String] = []
        for entry in entries {
            let entryPath = path + [entry.name]
            if entry.attributes.type == .directory {
                try await move(batch, in: directory, path: path)
                batch = []
                guard progress.isAfterCursor(entryPath) || progress.isOnCursorPath(entryPath) else { continue }
                let found = try await distribute.lookup(entry.name, in: directory, context: context)
                guard found.type == .directory else { continue }  // replaced meanwhile: the next run sees it
                try await crawl(found.id, path: entryPath)
                progress.cursor = entryPath
                try await reportIfDue()
            } else if progress.isAfterCursor(entryPath) {
                batch.append(entry.name)
                if batch.count >= filesInFlight {
                    try await move(batch, in: directory, path: path)
                    batch = []
                }
            }
        }
        try await move(batch, in: directory, path: path)
    }

    /// Moves a batch of names at once, counts what happened, and moves the cursor past the batch.
    private func move(_ names: [String], in directory: FileID, path: [String]) async throws {
        guard let last = names.last else { return }
        try Task.checkCancellation()
        let began = ContinuousClock.now
        let outcomes = await withTaskGroup(of: (String, MigrationOutcome).self) { group in
            for name in names {
                group.addTask { [distribute, context] in
                    (name, await distribute.migrate(name, in: directory, context: context))
                }
            }
            var outcomes: [(String, MigrationOutcome)] = []
            for await outcome in group { outcomes.append(outcome) }
            return outcomes
        }
        for (name, outcome) in outcomes {
            progress.counters.count(outcome)
            if case .skippedForNow = outcome, skipped.count < Limits.rebalanceRetriesMax {
                skipped.append((directory, name))
            }
        }
        progress.cursor = path + [last]
        try await reportIfDue()
        if throttle == .lazy {
            // Yield to clients: as long idle as the batch took.
            try await Task.sleep(for: ContinuousClock.now - began)
        }
    }

    /// Entries below `directory`, directories included.
    private func countEntries(of directory: FileID, path: [String]) async throws -> UInt64 {
        try Task.checkCancellation()
        var count: UInt64 = 0
        for entry in try await listing(of: directory, path: path) {
            count += 1
            if entry.attributes.type == .directory {
                count += try await countEntries(of: entry.attributes.id, path: path + [entry.name])
            }
        }
        return count
    }

    /// Every entry of `directory` but `.` and `..`, sorted by name's bytes.
    private func listing(of directory: FileID, path: [String]) async throws -> [DirectoryEntry] {
        var entries: [DirectoryEntry] = []
        var cookie: UInt64 = 0
        while true {
            let page = try await distribute.readDirectory(
                directory, after: cookie, countMax: Limits.directoryPageEntriesMax, context: context)
            entries.append(contentsOf: page.entries.filter { $0.name != "." && $0.name != ".." })
            guard entries.count <= Limits.rebalanceDirectoryEntriesMax else {
                throw FileSystemError(
                    .fileTooLarge,
                    "directory /\(path.joined(separator: "/")) has more than \(Limits.rebalanceDirectoryEntriesMax) entries, more than a rebalance holds")
            }
            guard let next = page.nextCookie else { break }
            cookie = next
        }
        return entries.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
    }

    private func stamp() {
        let elapsed = ContinuousClock.now - started
        progress.counters.elapsedSeconds =
            elapsedBefore + Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    private func reportIfDue() async throws {
        guard ContinuousClock.now - reportedAt >= reportEvery else { return }
        stamp()
        try await report(progress)
        reportedAt = ContinuousClock.now
    }
}
