/// Where a rebalance is and what it has done: what the crawler reports, the catalog stores (so a stop, a daemon
/// restart or a manager failover continues rather than starts again) and `rebalance status` shows.
public struct RebalanceProgress: Codable, Sendable, Hashable {
    /// The path, component by component from the volume root, of the last entry the crawl finished: everything
    /// before it in the crawl's order (depth first, names in byte order) is done. Empty: nothing done yet.
    public var cursor: [String]
    public var counters: RebalanceCounters

    public init(cursor: [String] = [], counters: RebalanceCounters = RebalanceCounters()) {
        self.cursor = cursor
        self.counters = counters
    }

    /// Whether `path` comes after the cursor in the crawl's order (so it is still to do). A directory on the
    /// cursor's own path is not after it but is entered again: ``isOnCursorPath(_:)``.
    public func isAfterCursor(_ path: [String]) -> Bool {
        guard !cursor.isEmpty else { return true }  // nothing done yet
        for (component, done) in zip(path, cursor) where component != done {
            return done.utf8.lexicographicallyPrecedes(component.utf8)
        }
        // One is a prefix of the other: the cursor's entry, what is below it (a directory is the cursor only once
        // it is finished) and its ancestors are not after it.
        return false
    }

    /// Whether `path` names the cursor's entry or one of its ancestors (a directory the crawl resumes inside).
    public func isOnCursorPath(_ path: [String]) -> Bool {
        path.count < cursor.count && Array(cursor.prefix(path.count)) == path
    }
}

/// What a rebalance counted, GlusterFS's columns: files looked at and moved, their bytes, files left where they
/// are for now (open, changed during their copy, hard-linked), and files that failed.
public struct RebalanceCounters: Codable, Sendable, Hashable {
    public var scannedFiles: UInt64 = 0
    public var scannedDirectories: UInt64 = 0
    public var movedFiles: UInt64 = 0
    public var movedBytes: UInt64 = 0
    public var skippedFiles: UInt64 = 0
    public var failedFiles: UInt64 = 0
    /// Seconds the rebalance has run, over all its runs.
    public var elapsedSeconds: Double = 0
    /// Files and directories the bricks held when the crawl began (their used inodes): what `status` estimates
    /// the time left from. 0 when unknown.
    public var estimatedEntries: UInt64 = 0

    public init() {}

    /// Adds what one file's move did.
    public mutating func count(_ outcome: MigrationOutcome) {
        scannedFiles += 1
        switch outcome {
        case .inPlace: break
        case .moved(let bytes):
            movedFiles += 1
            movedBytes += bytes
        case .skipped, .skippedForNow: skippedFiles += 1
        case .failed: failedFiles += 1
        }
    }
}

/// What the rebalance did with one file.
public enum MigrationOutcome: Sendable, Hashable {
    /// Already on the brick the newest layout places it on.
    case inPlace
    case moved(bytes: UInt64)
    /// Left where it is, found there by every client, for a reason that will not pass by itself (a hard-linked
    /// file, a symbolic link, another file under its name on the target). The reason says which.
    case skipped(String)
    /// Left where it is for now: open somewhere, or changing under its copy. The run tries it again after its
    /// crawl; a later run moves it otherwise.
    case skippedForNow(String)
    case failed(String)
}

/// How hard a rebalance works (`cluster.rebal-throttle`, GlusterFS's words).
public enum RebalanceThrottle: String, Codable, Sendable, Hashable, CaseIterable {
    /// One file at a time, pausing after each as long as it took: half the rebalance's pace, for busy volumes.
    case lazy
    case normal
    case aggressive
}

/// The state `rebalance status` shows, in GlusterFS's words (scripts look for them).
public enum RebalanceState: String, Codable, Sendable, Hashable {
    case inProgress = "in progress"
    case stopped
    case failed
    case completed
}
