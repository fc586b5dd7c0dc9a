import Glibc
import MortarCore

extension PosixStorage {
    /// One page of a directory with each entry's attributes. Stateless: the cookie counts the visible entries
    /// already returned, so any later call on any connection continues from there.
    ///
    /// Why not `telldir`: on ext4 it is a 63-bit hash, and the layers above need cookie bits of their own
    /// (distribute keeps the child's index in the top bits). A count is small and means the same on every file
    /// system; the price is re-reading skipped names, which the kernel serves from its cache.
    public func readDirectory(_ directory: FileID, after cookie: UInt64, countMax: Int, context: OperationContext)
        async throws -> DirectoryPage
    {
        guard countMax > 0 else { throw FileSystemError.invalidArgument("directory page of \(countMax) entries") }
        let count = min(countMax, Limits.directoryPageEntriesMax)
        return try await run { [self] in try index.withLocation(directory) { location in
            guard location.isDirectory else {
                throw FileSystemError(.notDirectory, "\(location.subject) is not a directory")
            }
            // A descriptor of its own for the stream (closedir closes it): the location's may be the brick root's,
            // which stays open, and its read position must not be shared.
            let streamDescriptor = try SystemCall.open(location.object, flags: O_RDONLY | O_DIRECTORY, location.subject)
            guard let stream = fdopendir(streamDescriptor) else {
                let error = FileSystemError.fromErrno("fdopendir", location.subject)
                SystemCall.close(streamDescriptor)
                throw error
            }
            defer { closedir(stream) }
            let names = try readNames(stream, location: location, skipping: cookie, count: count)
            var entries: [DirectoryEntry] = []
            entries.reserveCapacity(names.names.count)
            for name in names.names {
                do {
                    entries.append(DirectoryEntry(name: name, attributes: try describe(Self.entry(name, in: location))))
                } catch let error as FileSystemError where error.code == .notFound {
                    continue  // removed since the directory was read
                }
            }
            return DirectoryPage(entries: entries, nextCookie: names.nextCookie)
        } }
    }

    /// Reads up to `count` names, skipping `.`, `..` and the hidden index. Peeks one entry further so that the last
    /// page says it is the last (`nextCookie == nil`) rather than needing an extra empty page.
    private func readNames(_ stream: OpaquePointer, location: Location, skipping: UInt64, count: Int) throws
        -> (names: [String], nextCookie: UInt64?)
    {
        var names: [String] = []
        var skipped: UInt64 = 0
        while true {
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
            if names.count == count { return (names, skipping + UInt64(count)) }
            names.append(name)
        }
    }
}
