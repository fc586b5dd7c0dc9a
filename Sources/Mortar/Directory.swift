import MortarCore
import Synchronization

/// An open directory stream (`glfs_opendir`). Listing is stateless on the bricks: the stream only remembers the
/// cookie of where it is, so ``position`` and ``seek(to:)`` work as `telldir`/`seekdir`.
public final class Directory: Sendable {
    public let volume: Volume
    public let id: FileID
    private let cursor = Mutex<UInt64?>(0)

    init(volume: Volume, id: FileID) {
        self.volume = volume
        self.id = id
    }

    /// The next entries, or nil at the end of the listing.
    public func nextPage(countMax: Int = Limits.directoryPageEntriesMax) async throws -> [DirectoryEntry]? {
        guard let cookie = cursor.withLock({ $0 }) else { return nil }
        let context = try volume.context()
        let page = try await volume.stack.readDirectory(id, after: cookie, countMax: countMax, context: context)
        cursor.withLock { $0 = page.nextCookie }
        if page.entries.isEmpty, page.nextCookie == nil { return nil }
        return page.entries
    }

    /// Where the stream is; nil once the end was reached.
    public var position: UInt64? { cursor.withLock { $0 } }

    /// Continues from a position returned by ``position``; 0 starts over.
    public func seek(to position: UInt64?) {
        cursor.withLock { $0 = position }
    }
}
