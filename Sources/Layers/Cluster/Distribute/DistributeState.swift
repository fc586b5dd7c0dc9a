import MortarCore
import MortarVolumeSpec

/// Where a FileID lives among the children.
enum Placement: Sendable, Hashable {
    /// A directory: on every child.
    case everyChild
    /// A file, symbolic link or special file: on this child only.
    case child(Int)
}

/// The layer's mutable state: what it has learned about placements, and its open files.
struct DistributeState: Sendable {
    /// FileID → placement, bounded by `Limits.placementCacheEntriesMax`. When full, an arbitrary entry goes: a
    /// miss only costs asking every child again.
    private(set) var placements: [FileID: Placement] = [:]
    /// This layer's handle → the child that opened the file and the child's own handle.
    private var openFiles: [UInt64: (child: Int, file: OpenFile)] = [:]
    private var nextHandle: UInt64 = 1

    mutating func learn(_ id: FileID, _ placement: Placement) {
        if placements[id] == nil, placements.count >= Limits.placementCacheEntriesMax {
            placements.remove(at: placements.startIndex)
        }
        placements[id] = placement
    }

    mutating func forget(_ id: FileID) {
        placements[id] = nil
    }

    mutating func register(child: Int, file: OpenFile) throws -> OpenFile {
        guard openFiles.count < Limits.openFilesPerConnectionMax else {
            throw FileSystemError(.tooManyOpenFiles, "distribute holds \(openFiles.count) open files")
        }
        let handle = nextHandle
        nextHandle += 1
        openFiles[handle] = (child, file)
        return OpenFile(id: file.id, handle: handle)
    }

    func openFile(_ file: OpenFile) throws -> (child: Int, file: OpenFile) {
        guard let entry = openFiles[file.handle], entry.file.id == file.id else {
            throw FileSystemError(.badFileHandle, "distribute handle \(file.handle) is not open for \(file.id)")
        }
        return entry
    }

    mutating func unregister(_ file: OpenFile) {
        openFiles[file.handle] = nil
    }
}

/// The cookies of a distributed listing: the high bits name the child being listed, the low bits carry that
/// child's own cookie.
///
/// Ten bits of child index cover `Limits.bricksPerVolumeMax` children; 54 bits remain for each child's cookie
/// (MemoryFileSystem uses 48). A child whose cookie does not fit is reported as EIO rather than truncated,
/// because a truncated cookie would silently repeat or skip entries.
enum DirectoryCookie {
    static let childIndexBits = 10
    static let childCookieBits = 64 - childIndexBits
    static let childCookieMask: UInt64 = (1 << childCookieBits) - 1

    static func encode(child: Int, cookie: UInt64) throws -> UInt64 {
        guard cookie <= childCookieMask else {
            throw FileSystemError.inputOutput(
                "child \(child) returned directory cookie \(cookie), wider than \(childCookieBits) bits")
        }
        return UInt64(child) << childCookieBits | cookie
    }

    static func decode(_ cookie: UInt64) -> (child: Int, cookie: UInt64) {
        (Int(cookie >> childCookieBits), cookie & childCookieMask)
    }
}

/// The children and the layout history they are placed by, replaced whole when the volume grows, with each
/// rotation's generations computed once (see ``Layout/rotation(of:initialChildCount:)``).
struct DistributeTopology: Sendable {
    let children: [any FileOperations]
    let history: LayoutHistory
    /// Rotation → every generation's layout, oldest first; at most `history.initialChildCount` entries.
    private var computed: [Int: [Layout]] = [:]

    init(children: [any FileOperations], history: LayoutHistory) {
        self.children = children
        self.history = history
    }

    mutating func layouts(of directory: FileID) -> [Layout] {
        let rotation = Layout.rotation(of: directory, initialChildCount: history.initialChildCount)
        if let known = computed[rotation] { return known }
        let layouts = Layout.generations(history, directory: directory)
        computed[rotation] = layouts
        return layouts
    }
}
