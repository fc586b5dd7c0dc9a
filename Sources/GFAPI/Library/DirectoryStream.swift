import Glibc
import Mortar
import MortarCore

/// An open directory as `glfs_readdir` and friends see it: `.` and `..` first (POSIX callers expect them; the
/// volume does not store them), then the volume's entries page by page, with `telldir` positions that `seekdir`
/// can return to.
final class DirectoryStream: @unchecked Sendable {
    /// A place in the stream: one of the two dot entries, or an entry of the page read after `cookie`.
    enum Position: Hashable, Sendable {
        case dot(Int)
        case entry(pageCookie: UInt64, index: Int)
        case end
    }

    private struct State {
        var dotIndex = 0
        var page: [DirectoryEntry] = []
        var pageCookie: UInt64 = 0
        var index = 0
        var pageIsCurrent = false
        var skipOnNextPage = 0
        var positions: [Position] = []
        var tokens: [Position: Int] = [:]
    }

    static let positionsMax = 1 << 16

    let path: String
    let directory: Directory
    private let dots: [DirectoryEntry]
    private let state = ForkSafeMutex(State())
    /// The entry `glfs_readdir`/`glfs_readdirplus` return a pointer to; valid until the next call on the stream.
    let entryBuffer = UnsafeMutablePointer<dirent>.allocate(capacity: 1)

    init(path: String, directory: Directory, itself: FileAttributes, parent: FileAttributes) {
        self.path = path
        self.directory = directory
        self.dots = [DirectoryEntry(name: ".", attributes: itself), DirectoryEntry(name: "..", attributes: parent)]
    }

    deinit {
        entryBuffer.deallocate()
    }

    private enum Step {
        case entry(DirectoryEntry)
        case fetch
        case end
    }

    /// The next entry, or nil at the end.
    func next() async throws -> DirectoryEntry? {
        while true {
            let step = state.withLock { state -> Step in
                if state.dotIndex < dots.count {
                    state.dotIndex += 1
                    return .entry(dots[state.dotIndex - 1])
                }
                if state.pageIsCurrent, state.index < state.page.count {
                    state.index += 1
                    return .entry(state.page[state.index - 1])
                }
                return directory.position == nil ? .end : .fetch
            }
            switch step {
            case .entry(let entry): return entry
            case .end: return nil
            case .fetch:
                let cookie = directory.position ?? 0
                let entries = try await directory.nextPage() ?? []
                state.withLock { state in
                    state.page = entries
                    state.pageCookie = cookie
                    state.index = min(state.skipOnNextPage, entries.count)
                    state.skipOnNextPage = 0
                    state.pageIsCurrent = true
                }
                if entries.isEmpty, directory.position == nil { return nil }
            }
        }
    }

    /// A token for the current position (`telldir`).
    func tell() throws -> Int {
        try state.withLock { state -> Int in
            let position: Position
            if state.dotIndex < dots.count {
                position = .dot(state.dotIndex)
            } else if state.pageIsCurrent, state.index < state.page.count {
                position = .entry(pageCookie: state.pageCookie, index: state.index)
            } else if let next = directory.position {
                position = .entry(pageCookie: next, index: state.skipOnNextPage)
            } else {
                position = .end
            }
            if let token = state.tokens[position] { return token }
            guard state.positions.count < Self.positionsMax else {
                throw FileSystemError(.valueOverflow, "more than \(Self.positionsMax) telldir positions on '\(path)'")
            }
            state.positions.append(position)
            state.tokens[position] = state.positions.count
            return state.positions.count
        }
    }

    /// Returns to a position from ``tell()``; tokens it never issued are ignored, as `seekdir` has no error.
    func seek(to token: Int) {
        state.withLock { state in
            guard token >= 1, token <= state.positions.count else { return }
            state.pageIsCurrent = false
            state.page = []
            switch state.positions[token - 1] {
            case .dot(let index):
                state.dotIndex = index
                state.skipOnNextPage = 0
                directory.seek(to: 0)
            case .entry(let cookie, let index):
                state.dotIndex = dots.count
                state.skipOnNextPage = index
                directory.seek(to: cookie)
            case .end:
                state.dotIndex = dots.count
                directory.seek(to: nil)
            }
        }
    }
}
