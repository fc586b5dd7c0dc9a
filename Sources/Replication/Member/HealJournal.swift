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
/// Durability: the first change of a file or directory for a member creates a marker file
/// `ROOT/.mortar/heal/MEMBER/f-FILEID` (or `d-…`) before the change is applied; markers go when the item is healed.
/// After a restart every marker stands for the whole file, so a crash costs extra copying, never a missed change.
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
    }

    private struct State {
        var members: [Int: MemberRecord] = [:]
        var nextVersion: UInt64 = 1
    }

    private let state = Mutex(State())
    /// `ROOT/.mortar/heal`, or nil for a journal kept in memory only (tests).
    let directory: String?
    let logger: Logger

    public init(directory: String?, logger: Logger) {
        self.directory = directory
        self.logger = logger
    }

    /// Loads the markers left by an earlier run of the brick: each is a whole file or a directory to heal.
    public func load() throws {
        guard let directory else { return }
        mkdir(directory, 0o700)
        guard let memberDirectories = try? Self.names(in: directory) else { return }
        for memberName in memberDirectories {
            guard let member = Int(memberName) else { continue }
            for name in (try? Self.names(in: directory + "/" + memberName)) ?? [] {
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
    public enum Change: Sendable, Hashable {
        case bytes(FileID, Range<UInt64>)
        /// Size, mode, owner, times or extended attributes: healed without copying data.
        case metadata(FileID)
        /// A new file: copied whole.
        case wholeFile(FileID)
        case directory(FileID)
    }

    /// Records `changes` for each of `members`; creates the markers of items seen for the first time.
    public func record(_ changes: [Change], for members: [Int]) async {
        guard !members.isEmpty, !changes.isEmpty else { return }
        var newMarkers: [String] = []
        state.withLock { state in
            for member in members {
                var record = state.members[member] ?? MemberRecord()
                for change in changes {
                    state.nextVersion += 1
                    if let marker = Self.apply(change, to: &record, version: state.nextVersion) {
                        newMarkers.append("\(member)/\(marker)")
                    }
                }
                state.members[member] = record
            }
        }
        guard let directory, !newMarkers.isEmpty else { return }
        let markers = newMarkers
        let logger = self.logger
        do {
            try await NIOThreadPool.singleton.runIfActive {
                for marker in markers { Self.createMarker(directory + "/" + marker, logger: logger) }
            }
        } catch {
            logger.error("could not write heal markers: \(error)")
        }
    }

    /// Returns the marker name when the item is new to the record.
    private static func apply(_ change: Change, to record: inout MemberRecord, version: UInt64) -> String? {
        switch change {
        case .directory(let id):
            let isNew = record.directories[id] == nil
            record.directories[id] = version
            return isNew ? "d-\(id)" : nil
        case .wholeFile(let id):
            let isNew = record.files[id] == nil
            record.files[id] = FileRecord(version: version, wholeFile: true, ranges: [])
            return isNew ? "f-\(id)" : nil
        case .metadata(let id):
            guard var file = record.files[id] else {
                record.files[id] = FileRecord(version: version, wholeFile: false, ranges: [])
                return "f-\(id)"
            }
            file.version = version
            record.files[id] = file
            return nil
        case .bytes(let id, let range):
            guard var file = record.files[id] else {
                record.files[id] = FileRecord(version: version, wholeFile: false, ranges: [range])
                return "f-\(id)"
            }
            file.version = version
            if !file.wholeFile { file.ranges = merge(file.ranges, range) }
            if file.ranges.count > Limits.healRangesPerFileMax { file.wholeFile = true; file.ranges = [] }
            record.files[id] = file
            return nil
        }
    }

    static func merge(_ ranges: [Range<UInt64>], _ added: Range<UInt64>) -> [Range<UInt64>] {
        var result: [Range<UInt64>] = []
        var pending = added
        for range in ranges {
            if range.upperBound < pending.lowerBound || pending.upperBound < range.lowerBound {
                result.append(range)
            } else {
                pending = min(range.lowerBound, pending.lowerBound)..<max(range.upperBound, pending.upperBound)
            }
        }
        result.append(pending)
        return result.sorted { $0.lowerBound < $1.lowerBound }
    }

    // MARK: Reading and completing

    public func pendingDirectories(of member: Int) -> [(id: FileID, version: UInt64)] {
        state.withLock { state in (state.members[member]?.directories ?? [:]).map { ($0.key, $0.value) } }
    }

    public func pendingFiles(of member: Int) -> [(id: FileID, record: FileRecord)] {
        state.withLock { state in (state.members[member]?.files ?? [:]).map { ($0.key, $0.value) } }
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
        let removed = state.withLock { state -> Bool in
            guard state.members[member]?.directories[id] == version else { return false }
            state.members[member]?.directories[id] = nil
            return true
        }
        if removed { await removeMarker("\(member)/d-\(id)") }
    }

    /// Removes a healed file's record if no change was recorded since `version`.
    public func completeFile(_ id: FileID, of member: Int, version: UInt64) async {
        let removed = state.withLock { state -> Bool in
            guard state.members[member]?.files[id]?.version == version else { return false }
            state.members[member]?.files[id] = nil
            return true
        }
        if removed { await removeMarker("\(member)/f-\(id)") }
    }

    /// Drops everything recorded for `member` (it rejoined: whatever it missed has been healed).
    public func forget(member: Int) async {
        let had = state.withLock { $0.members.removeValue(forKey: member) != nil }
        guard had, let directory else { return }
        try? await NIOThreadPool.singleton.runIfActive {
            let path = directory + "/\(member)"
            for name in (try? Self.names(in: path)) ?? [] { unlink(path + "/" + name) }
        }
    }

    private func removeMarker(_ marker: String) async {
        guard let directory else { return }
        try? await NIOThreadPool.singleton.runIfActive { _ = unlink(directory + "/" + marker) }
    }

    private static func createMarker(_ path: String, logger: Logger) {
        let parent = String(path[..<path.lastIndex(of: "/")!])
        mkdir(parent, 0o700)
        let descriptor = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0o600)
        if descriptor < 0 {
            logger.error("could not create heal marker \(path): \(String(cString: strerror(errno)))")
        } else {
            close(descriptor)
        }
    }

    static func names(in directory: String) throws -> [String] {
        guard let stream = opendir(directory) else { throw FileSystemError.fromErrno("opendir", directory) }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
