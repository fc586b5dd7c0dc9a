import MortarCore
import Synchronization

/// Which files a brick's connections hold open, and which files a rebalance has fenced while it moves them to
/// another brick (``ControlRequest/fence(_:)``).
///
/// Invariants:
/// - A file is fenced by at most one connection, which the fence does not refuse.
/// - An open that another connection's fence covers is never registered: ``opened(_:by:)`` and ``fence(_:by:)``
///   take the same lock, so an open either counts in the fence's answer or is refused by the fence. A rebalance
///   that sees no other open under its fence knows nobody can write the file until it lifts the fence.
/// - Everything a connection registered goes with the connection (``connectionClosed(_:)``): a rebalance that
///   dies leaves no fence behind.
/// - A file a connection held open when it closed counts as open for `reopenGrace` more: a client whose connection
///   dropped reopens its files on the new one, and the file must still be where it reopens it.
public final class MigrationFences: Sendable {
    private struct State {
        /// File → connection → opens of it the connection holds.
        var opens: [FileID: [UInt64: Int]] = [:]
        /// Connection → the files it holds open (so a closing connection costs its own files, not the brick's).
        var filesOfConnection: [UInt64: Set<FileID>] = [:]
        /// File → the connection that fenced it.
        var fences: [FileID: UInt64] = [:]
        /// File → when the last connection that held it open closed (within `reopenGrace`).
        var dropped: [FileID: ContinuousClock.Instant] = [:]
    }

    private let state = Mutex(State())
    private let reopenGrace: Duration
    /// How many files are fenced: requests that name files by name pay a lookup only while this is above zero.
    private let fenceCount = Atomic<Int>(0)

    public init(reopenGrace: Duration = .milliseconds(Limits.migrationReopenGraceMilliseconds)) {
        self.reopenGrace = reopenGrace
    }

    /// Whether any file is fenced now.
    var isActive: Bool { fenceCount.load(ordering: .relaxed) > 0 }

    /// Fences `file` for `connection`; answers how many opens of it other connections hold. EBUSY when another
    /// connection fences it, or when the brick holds `Limits.migrationFencesPerBrickMax` fences.
    func fence(_ file: FileID, by connection: UInt64) throws(FileSystemError) -> Int {
        try state.withLock { (state) throws(FileSystemError) in
            if let holder = state.fences[file], holder != connection {
                throw FileSystemError(.busy, "file \(file) is already fenced by another rebalance connection")
            }
            if state.fences[file] == nil {
                guard state.fences.count < Limits.migrationFencesPerBrickMax else {
                    throw FileSystemError(
                        .busy, "the brick already fences \(state.fences.count) files for moves, the limit")
                }
                state.fences[file] = connection
                fenceCount.add(1, ordering: .relaxed)
            }
            let open = (state.opens[file] ?? [:]).reduce(0) { $0 + ($1.key == connection ? 0 : $1.value) }
            guard let when = state.dropped[file] else { return open }
            if ContinuousClock.now - when < reopenGrace { return open + 1 }
            state.dropped[file] = nil
            return open
        }
    }

    /// Lifts `connection`'s fence of `file`, if it has one.
    func unfence(_ file: FileID, by connection: UInt64) {
        state.withLock { state in
            guard state.fences[file] == connection else { return }
            state.fences[file] = nil
            fenceCount.subtract(1, ordering: .relaxed)
        }
    }

    /// EINPROGRESS (``FileSystemError/Code/beingMoved``) when another connection fences `file`.
    func check(_ file: FileID, for connection: UInt64) throws(FileSystemError) {
        guard isActive else { return }
        try state.withLock { (state) throws(FileSystemError) in try Self.check(file, connection, state) }
    }

    /// Counts an open of `file` by `connection`, unless another connection fences it (then EINPROGRESS, and the
    /// caller releases what it opened).
    func opened(_ file: FileID, by connection: UInt64) throws(FileSystemError) {
        try state.withLock { (state) throws(FileSystemError) in
            try Self.check(file, connection, state)
            state.opens[file, default: [:]][connection, default: 0] += 1
            state.filesOfConnection[connection, default: []].insert(file)
        }
    }

    /// Forgets one open of `file` by `connection`.
    func closed(_ file: FileID, by connection: UInt64) {
        state.withLock { state in
            guard let count = state.opens[file]?[connection] else { return }
            if count > 1 {
                state.opens[file]?[connection] = count - 1
            } else {
                state.opens[file]?[connection] = nil
                if state.opens[file]?.isEmpty == true { state.opens[file] = nil }
                state.filesOfConnection[connection]?.remove(file)
                if state.filesOfConnection[connection]?.isEmpty == true { state.filesOfConnection[connection] = nil }
            }
        }
    }

    /// Forgets everything `connection` registered: its opens and its fences.
    func connectionClosed(_ connection: UInt64) {
        state.withLock { state in
            for (file, holder) in state.fences where holder == connection {
                state.fences[file] = nil
                fenceCount.subtract(1, ordering: .relaxed)
            }
            let now = ContinuousClock.now
            let files = state.filesOfConnection.removeValue(forKey: connection) ?? []
            if state.dropped.count + files.count > Limits.migrationDroppedOpensMax {
                state.dropped = state.dropped.filter { now - $0.value < reopenGrace }
            }
            for file in files {
                if state.dropped.count < Limits.migrationDroppedOpensMax { state.dropped[file] = now }
                state.opens[file]?[connection] = nil
                if state.opens[file]?.isEmpty == true { state.opens[file] = nil }
            }
        }
    }

    /// Files with opens registered (tests check that closing forgets them).
    var openFileCount: Int { state.withLock { $0.opens.count } }

    private static func check(_ file: FileID, _ connection: UInt64, _ state: State) throws(FileSystemError) {
        if let holder = state.fences[file], holder != connection {
            throw FileSystemError(.beingMoved, "file \(file) is being moved to another brick by a rebalance")
        }
    }
}
