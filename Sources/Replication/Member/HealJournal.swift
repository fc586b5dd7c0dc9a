import Glibc
import Logging
import MortarCore
import NIOCore
import NIOPosix
import Synchronization

/// What a member missed, as one in-sync member records it: for every member that is not in sync, the files whose
/// data or metadata changed (byte ranges, or the whole file) and the directories whose entries changed.
///
/// Every in-sync member records every change it applies while another member is out of sync or healing, so the
/// record of any *witness* (a member in sync without a break since the other left) is complete. Records are kept
/// when a change is admitted, before it is applied, so a heal copy that overlaps a change always sees the record
/// move on (its version) and copies again.
///
/// Durability: the first change of a file or directory for a member records a marker `f-FILEID` (or `d-…`) in
/// the member's log `ROOT/.mortar/heal/MEMBER.log` before the change is applied; markers go when the item is healed.
/// After a restart every marker stands for the whole file, so a crash costs extra copying, never a missed change.
/// Markers are reached through the marker directory held open (``HealMarkerDirectory``), never through paths that
/// grow with the brick's own.
public final class HealJournal: Sendable {
    public struct FileRecord: Sendable, Hashable {
        /// Bumped by every change recorded; a heal removes the record only if it is unchanged since its snapshot.
        public var version: UInt64
        public var wholeFile: Bool
        /// Changed byte ranges, sorted and merged (unused when `wholeFile`).
        public var ranges: [Range<UInt64>]

        public var byteCount: UInt64 {
            wholeFile ? 0 : ranges.reduce(0) { $0 + ($1.upperBound - $1.lowerBound) }
        }
    }

    struct MemberRecord {
        var files: [FileID: FileRecord] = [:]
        var directories: [FileID: UInt64] = [:]
        /// The newest epoch of the recorder's view in which anything was recorded (0: only markers loaded after
        /// a restart). See ``forget(member:recordedBefore:)``.
        var latestEpoch: UInt64 = 0
    }

    private struct State {
        var members: [Int: MemberRecord] = [:]
        var nextVersion: UInt64 = 1
        /// Markers (`MEMBER/f-…`) of recorded items not yet known to be on disk.
        var unwritten: Set<String> = []
    }

    private let state = Mutex(State())
    /// `ROOT/.mortar/heal`, or nil for a journal kept in memory only (intents, tests).
    let directory: HealMarkerDirectory?
    let logger: Logger

    /// A journal whose markers live in `directory` (created if missing; its parent must exist), or in memory only
    /// when `directory` is nil. Throws when the directory cannot be created or opened, or is not a directory.
    public init(directory: String?, logger: Logger) throws {
        self.directory = try directory.map { try HealMarkerDirectory(path: $0) }
        self.logger = logger
    }

    /// A journal kept in memory only: nothing survives the process.
    public init(logger: Logger) {
        self.directory = nil
        self.logger = logger
    }

    deinit { directory?.close() }

    /// Loads the markers left by an earlier run of the brick: each is a whole file or a directory to heal.
    ///
    /// A marker directory that cannot be read throws instead of counting as "nothing pending": this member may be
    /// the witness whose record a healing member depends on, and an empty record would have it report that member
    /// caught up with changes missing. Throwing keeps the brick from serving, so the manager takes it out of the
    /// in-sync set (it stops answering heartbeats) and it loses its witness role; the members it was recording for
    /// are then healed by another witness or compared in full. A forced full resync from here would need to know
    /// which members the lost directories were for, which is exactly what could not be read.
    public func load() throws {
        guard let directory else { return }
        for (member, names) in try directory.markers() {
            for name in names {
                // Not a marker name (f-/d- and a FileID): nothing this journal wrote.
                guard name.count > 2, let id = FileID(String(name.dropFirst(2))) else { continue }
                state.withLock { state in
                    state.nextVersion += 1
                    if name.hasPrefix("d-") {
                        state.members[member, default: MemberRecord()].directories[id] = state.nextVersion
                    } else {
                        state.members[member, default: MemberRecord()].files[id] = FileRecord(
                            version: state.nextVersion, wholeFile: true, ranges: [])
                    }
                }
            }
        }
    }

    /// What a change touches, as far as heal is concerned.
    /// One change a member missed; the wire carries the same type in heal notes.
    public typealias Change = HealChange

    /// Records `changes` for each of `members`; creates the markers of items seen for the first time, and returns
    /// only when they exist. Throws (EIO) when a marker cannot be written: the change must then not be applied,
    /// since a restart would forget that the member missed it. The record stays in memory (an extra copy at worst),
    /// and the marker stays *unwritten*, so the next change of the item writes it again before it is applied.
    public func record(_ changes: [Change], for members: [Int], epoch: UInt64) async throws {
        guard !members.isEmpty, !changes.isEmpty else { return }
        let markers = note(changes, for: members, epoch: epoch)
        guard let directory, !markers.isEmpty else {
            if directory == nil { state.withLock { $0.unwritten.removeAll() } }
            return
        }
        let failures: [String]
        do {
            failures = try await NIOThreadPool.singleton.runIfActive {
                markers.compactMap { marker in directory.createMarker(marker) }
            }
        } catch {
            throw FileSystemError.inputOutput("could not write heal markers: \(error)")
        }
        state.withLock { state in
            for marker in markers where !failures.contains(where: { $0.hasPrefix(marker + ":") }) {
                state.unwritten.remove(marker)
            }
        }
        guard failures.isEmpty else {
            logger.error("could not write heal markers in \(directory.path): \(failures.joined(separator: "; "))")
            throw FileSystemError.inputOutput("could not write heal marker \(directory.path)/\(failures[0])")
        }
    }

    /// Records `changes` for `members` in memory only, for a journal kept in memory (no ``directory``): there is
    /// no marker to write, so nothing can fail and nothing is waited for.
    public func recordInMemory(_ changes: [Change], for members: [Int], epoch: UInt64) {
        _ = note(changes, for: members, epoch: epoch)
        if directory == nil { state.withLock { $0.unwritten.removeAll() } }
    }

    /// Updates the records; returns the markers that must exist before the changes may be applied.
    ///
    /// Runs for every change every member applies, so it works in place: the record and its range list are
    /// mutated where they are stored (a copy would copy them whole on every change), and marker names are only
    /// built when an item is new or some marker is still unwritten.
    private func note(_ changes: [Change], for members: [Int], epoch: UInt64) -> [String] {
        state.withLock { state in
            var touched: [String] = []
            for member in members {
                state.members[member, default: MemberRecord()].latestEpoch =
                    max(state.members[member]?.latestEpoch ?? 0, epoch)
                for change in changes {
                    state.nextVersion += 1
                    let version = state.nextVersion
                    if let marker = Self.apply(change, to: &state.members[member, default: MemberRecord()], version: version) {
                        state.unwritten.insert("\(member)/\(marker)")
                    }
                    // A marker another change is still writing (or failed to write) is written here too, so no
                    // change of the item goes ahead before its marker exists.
                    guard !state.unwritten.isEmpty else { continue }
                    let name = "\(member)/\(Self.markerName(of: change))"
                    if state.unwritten.contains(name) { touched.append(name) }
                }
            }
            return touched
        }
    }

    private static func markerName(of change: Change) -> String {
        switch change {
        case .directory(let id): "d-\(id)"
        case .wholeFile(let id), .metadata(let id), .bytes(let id, _): "f-\(id)"
        }
    }

    /// Returns the marker name when the item is new to the record.
    private static func apply(_ change: Change, to record: inout MemberRecord, version: UInt64) -> String? {
        switch change {
        case .directory(let id):
            let isNew = record.directories.updateValue(version, forKey: id) == nil
            return isNew ? "d-\(id)" : nil
        case .wholeFile(let id):
            let isNew = record.files.updateValue(FileRecord(version: version, wholeFile: true, ranges: []), forKey: id) == nil
            return isNew ? "f-\(id)" : nil
        case .metadata(let id):
            guard record.files[id] != nil else {
                record.files[id] = FileRecord(version: version, wholeFile: false, ranges: [])
                return "f-\(id)"
            }
            record.files[id]?.version = version
            return nil
        case .bytes(let id, let range):
            guard record.files[id] != nil else {
                record.files[id] = FileRecord(version: version, wholeFile: false, ranges: [range])
                return "f-\(id)"
            }
            record.files[id]?.version = version
            guard record.files[id]?.wholeFile == false else { return nil }
            merge(&record.files[id]!.ranges, range)
            if record.files[id]!.ranges.count > Limits.healRangesPerFileMax {
                record.files[id]?.wholeFile = true
                record.files[id]?.ranges = []
            }
            return nil
        }
    }

    /// `ranges` (sorted, apart) with `added` merged in, overlapping or touching ranges joined.
    static func merge(_ ranges: [Range<UInt64>], _ added: Range<UInt64>) -> [Range<UInt64>] {
        var merged = ranges
        merge(&merged, added)
        return merged
    }

    /// Merges `added` into `ranges` (sorted, apart) in place: a binary search finds the first range it touches,
    /// and the ranges it overlaps are replaced by one. O(log n) plus the ranges joined.
    static func merge(_ ranges: inout [Range<UInt64>], _ added: Range<UInt64>) {
        var low = 0
        var high = ranges.count
        while low < high {
            let middle = (low + high) / 2
            if ranges[middle].upperBound < added.lowerBound { low = middle + 1 } else { high = middle }
        }
        var end = low
        var joined = added
        while end < ranges.count, ranges[end].lowerBound <= joined.upperBound {
            joined = min(ranges[end].lowerBound, joined.lowerBound)..<max(ranges[end].upperBound, joined.upperBound)
            end += 1
        }
        ranges.replaceSubrange(low..<end, with: CollectionOfOne(joined))
    }

    // MARK: Reading and completing

    public func pendingDirectories(of member: Int) -> [(id: FileID, version: UInt64)] {
        state.withLock { state in (state.members[member]?.directories ?? [:]).map { ($0.key, $0.value) } }
    }

    public func pendingFiles(of member: Int) -> [(id: FileID, record: FileRecord)] {
        state.withLock { state in (state.members[member]?.files ?? [:]).map { ($0.key, $0.value) } }
    }

    /// Whether any member's record names `id`, as a file or a directory.
    public func mentions(_ id: FileID) -> Bool {
        state.withLock { state in
            state.members.values.contains { $0.files[id] != nil || $0.directories[id] != nil }
        }
    }

    public func isEmpty(for member: Int) -> Bool {
        state.withLock { state in
            guard let record = state.members[member] else { return true }
            return record.files.isEmpty && record.directories.isEmpty
        }
    }

    /// Pending files and changed bytes (whole files count their size as unknown: 0) per member, for heal info.
    public func summary() -> [Int: (files: Int, directories: Int, bytes: UInt64)] {
        state.withLock { state in
            state.members.mapValues { record in
                (record.files.count, record.directories.count, record.files.values.reduce(0) { $0 + $1.byteCount })
            }
        }
    }

    /// Removes a healed directory's record if no change was recorded since `version`.
    public func completeDirectory(_ id: FileID, of member: Int, version: UInt64) async {
        await complete("\(member)/d-\(id)") { state in
            guard state.members[member]?.directories[id] == version else { return false }
            state.members[member]?.directories[id] = nil
            return true
        }
    }

    /// Removes a healed file's record if no change was recorded since `version`.
    public func completeFile(_ id: FileID, of member: Int, version: UInt64) async {
        await complete("\(member)/f-\(id)") { state in
            guard state.members[member]?.files[id]?.version == version else { return false }
            state.members[member]?.files[id] = nil
            return true
        }
    }

    /// Removes a record (when `remove` says so) and its marker together, under the lock: a change recorded right
    /// after finds the item new and creates its marker again *after* this unlink, never before it (unlinking
    /// outside the lock could remove the marker of a change already applied). The unlink runs on the thread pool
    /// while the lock is held, which holds up other records only for that one system call.
    private func complete(_ marker: String, _ remove: @escaping @Sendable (inout State) -> Bool) async {
        let directory = directory
        let removeUnderLock: @Sendable () -> Void = {
            self.state.withLock { state in
                guard remove(&state) else { return }
                state.unwritten.remove(marker)
                // Best effort, as in forget(member:): a stale marker costs an extra copy after a restart.
                directory?.removeMarker(marker)
            }
        }
        guard directory != nil else { return removeUnderLock() }
        do {
            try await NIOThreadPool.singleton.runIfActive(removeUnderLock)
        } catch {
            // The pool is inactive only while the process shuts down: the record stays, which costs an extra
            // copy after the restart, never a missed change.
            logger.debug("record \(marker) kept: \(error)")
        }
    }

    /// Drops everything recorded for `member` (it rejoined: whatever it missed has been healed) — unless something
    /// was recorded for it in `epoch`, the epoch of the view that shows it in sync, or later.
    public func forget(member: Int, recordedBefore epoch: UInt64) async {
        let had = state.withLock { state in
            // A record made in this epoch or a later one is not from before the member rejoined: the recorder saw
            // it in sync and yet recorded a miss (a forward that failed, whose report has not moved the epoch
            // yet). Dropping it would let the member be declared caught up without that change.
            guard let record = state.members[member], record.latestEpoch < epoch else { return false }
            state.unwritten = state.unwritten.filter { !$0.hasPrefix("\(member)/") }
            state.members.removeValue(forKey: member)
            return true
        }
        guard had, let directory else { return }
        // Best effort: a marker left behind only costs an extra copy of its item after a restart. (The pool is
        // inactive only while the process shuts down.)
        try? await NIOThreadPool.singleton.runIfActive { directory.forget(member: "\(member)") }
    }
}
