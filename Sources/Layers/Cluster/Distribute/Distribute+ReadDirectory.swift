import Logging
import MortarCore
import MortarVolumeSpec
import Synchronization

extension Distribute {
    /// Lists child 0, then child 1, and so on (see ``DirectoryCookie`` for the cookie format). Directories come
    /// from child 0 only, as every child has them; files from whichever child holds them; link files never.
    public func readDirectory(_ directory: FileID, after cookie: UInt64, countMax: Int, context: OperationContext)
        async throws -> DirectoryPage
    {
        guard countMax > 0 else { throw FileSystemError.invalidArgument("countMax \(countMax) must be positive") }
        let wanted = min(countMax, Limits.directoryPageEntriesMax)
        // A listing from its start shows children another client's add-brick gave the volume.
        if cookie == 0 { await catchUp() }
        let children = children
        var (child, childCookie) = DirectoryCookie.decode(cookie)
        guard children.indices.contains(child) else {
            throw FileSystemError.invalidArgument(
                "directory cookie \(cookie) names child \(child) of \(children.count)")
        }
        var entries: [DirectoryEntry] = []
        // Each round either fills the page or moves on, so the rounds are bounded by the page size plus children.
        for _ in 0..<(Limits.directoryPageEntriesMax + children.count + 1) {
            let page = try await childPage(
                directory, on: child, after: childCookie, countMax: wanted - entries.count, context: context)
            entries += try await visibleEntries(of: page, on: child, context: context)
            if let next = page.nextCookie {
                childCookie = next
                if entries.count >= wanted || page.entries.isEmpty {
                    return DirectoryPage(
                        entries: entries, nextCookie: try DirectoryCookie.encode(child: child, cookie: next))
                }
            } else if child + 1 < children.count {
                child += 1
                childCookie = 0
                if entries.count >= wanted {
                    return DirectoryPage(
                        entries: entries, nextCookie: try DirectoryCookie.encode(child: child, cookie: 0))
                }
            } else {
                return DirectoryPage(entries: entries, nextCookie: nil)
            }
        }
        return DirectoryPage(
            entries: entries, nextCookie: try DirectoryCookie.encode(child: child, cookie: childCookie))
    }

    /// One page from one child. A child without the directory gives an empty page when the directory exists
    /// elsewhere (not yet repaired there), and ENOTDIR when the FileID is a file held by another child.
    private func childPage(
        _ directory: FileID, on child: Int, after cookie: UInt64, countMax: Int, context: OperationContext
    ) async throws -> DirectoryPage {
        do {
            return try await children[child].readDirectory(
                directory, after: cookie, countMax: countMax, context: context)
        } catch where isNotFound(error) {
            // The cached placement may predate the directory's removal: ask every child afresh.
            state.withLock { $0.forget(directory) }
            guard case .everyChild = try await placement(of: directory, context: context) else {
                throw FileSystemError(.notDirectory, "FileID \(directory) is not a directory")
            }
            return DirectoryPage(entries: [], nextCookie: nil)
        }
    }

    /// The entries of a child's page that this layer shows, learning where each file lives.
    private func visibleEntries(
        of page: DirectoryPage, on child: Int, context: OperationContext
    ) async throws -> [DirectoryEntry] {
        var visible: [DirectoryEntry] = []
        for entry in page.entries {
            if entry.name.hasPrefix(Self.movingPrefix) { continue }  // a copy a rebalance is making
            if entry.attributes.type == .directory {
                if child == 0 { visible.append(entry) }
                continue
            }
            if try await linkTarget(of: entry.attributes, on: child, context: context) != nil { continue }
            state.withLock { $0.learn(entry.attributes.id, .child(child)) }
            visible.append(entry)
        }
        return visible
    }
}
