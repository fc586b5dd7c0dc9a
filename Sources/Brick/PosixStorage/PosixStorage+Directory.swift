import Glibc
import MortarCore
import Synchronization

extension PosixStorage {
    /// One page of a directory with each entry's attributes. The cookie counts the visible entries already
    /// returned, so any later call on any connection continues from there.
    ///
    /// Why not `telldir`: on ext4 it is a 63-bit hash, and the layers above need cookie bits of their own
    /// (distribute keeps the child's index in the top bits). A count is small and means the same on every file
    /// system. The stream a page ended with is kept (``DirectoryCursors``), so the next page continues where it
    /// stopped; only when none was kept (another listing took it, or it was evicted) are the first `cookie` names
    /// read past again, at most `Limits.directorySkipEntriesMax` of them.
    public func readDirectory(_ directory: FileID, after cookie: UInt64, countMax: Int, context: OperationContext)
        async throws -> DirectoryPage
    {
        guard countMax > 0 else { throw FileSystemError.invalidArgument("directory page of \(countMax) entries") }
        let count = min(countMax, Limits.directoryPageEntriesMax)
        return try await run { [self] in try index.withLocation(directory) { location in
            guard location.isDirectory else {
                throw FileSystemError(.notDirectory, "\(location.subject) is not a directory")
            }
            let stream: DirectoryStream
            var skip: UInt64 = 0
            if cookie != 0, let kept = cursors.take(DirectoryCursors.Key(directory: directory, cookie: cookie)) {
                stream = kept
            } else {
                guard cookie <= Limits.directorySkipEntriesMax else {
                    throw FileSystemError.invalidArgument(
                        "listing position \(cookie) of \(location.subject) is past the \(Limits.directorySkipEntriesMax) "
                            + "entries a brick reads to find it; list the directory again from the start")
                }
                stream = try openStream(location)
                skip = cookie
            }
            var kept = false
            defer { if !kept { stream.close() } }
            let names = try readNames(stream.pointer, location: location, skipping: skip, from: cookie, count: count)
            if skip > 0 { skippedEntries.wrappingAdd(skip, ordering: .relaxed) }
            var entries: [DirectoryEntry] = []
            entries.reserveCapacity(names.names.count)
            for name in names.names {
                do {
                    entries.append(DirectoryEntry(name: name, attributes: try describe(Self.entry(name, in: location))))
                } catch let error as FileSystemError where error.code == .notFound {
                    continue  // removed since the directory was read
                }
            }
            if let next = names.nextCookie {
                cursors.put(stream, at: DirectoryCursors.Key(directory: directory, cookie: next))
                kept = true
            }
            return DirectoryPage(entries: entries, nextCookie: names.nextCookie)
        } }
    }

    /// A stream of its own over the directory (closedir closes its descriptor): the location's descriptor may be
    /// the brick root's, which stays open, and its read position must not be shared.
    private func openStream(_ location: Location) throws -> DirectoryStream {
        let descriptor = try SystemCall.open(location.object, flags: O_RDONLY | O_DIRECTORY, location.subject)
        guard let pointer = fdopendir(descriptor) else {
            let error = FileSystemError.fromErrno("fdopendir", location.subject)
            SystemCall.close(descriptor)
            throw error
        }
        return DirectoryStream(pointer: pointer)
    }

    /// Reads up to `count` names after skipping `skipping` visible ones, leaving `.`, `..` and the hidden index out.
    /// `from` is the cookie of the first name returned. Peeks one entry further, so that the last page says it is
    /// the last (`nextCookie == nil`) rather than needing an extra empty page; the peeked entry is put back
    /// (`seekdir`) for the stream's next page.
    private func readNames(
        _ stream: OpaquePointer, location: Location, skipping: UInt64, from cookie: UInt64, count: Int
    ) throws -> (names: [String], nextCookie: UInt64?) {
        var names: [String] = []
        var skipped: UInt64 = 0
        while true {
            let position = telldir(stream)
            errno = 0
            guard let record = readdir(stream) else {
                guard errno == 0 else { throw FileSystemError.fromErrno("readdir", location.subject) }
                return (names, nil)
            }
            let name = withUnsafePointer(to: record.pointee.d_name) { pointer in
                pointer.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
            }
            if name == "." || name == ".." { continue }
            if location.id == .root, name == HandleIndex.hiddenName { continue }
            if skipped < skipping {
                skipped += 1
                continue
            }
            if names.count == count {
                seekdir(stream, position)
                return (names, cookie + UInt64(count))
            }
            names.append(name)
        }
    }
}

extension PosixStorage {
    /// The volume paths of the directories among `ids` ("/" for the root), for reports that name files (`volume
    /// top`): one job on the I/O pool, which reads the index. A FileID that is not a directory, or one the index no
    /// longer leads to, has none.
    public func directoryPaths(_ ids: Set<FileID>) async -> [FileID: String] {
        do {
            return try await run { [index] in
                var paths: [FileID: String] = [:]
                for id in ids {
                    // A report's best effort: a FileID the brick cannot place is reported without a path.
                    // Walked afresh: a cached directory's path is where it was first found.
                    if let path = try? index.withLocation(id, cached: false, { $0.isDirectory ? $0.subject : nil }) {
                        paths[id] = path
                    }
                }
                return paths
            }
        } catch {
            return [:]  // the pool is shutting down with the brick: no paths, the report still answers
        }
    }
}
