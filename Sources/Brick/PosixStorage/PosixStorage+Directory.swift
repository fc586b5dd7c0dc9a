import Glibc
import MortarCore

extension PosixStorage {
    /// One page of a directory with each entry's attributes. Stateless: the cookie is the directory stream position
    /// (`telldir`) after the last entry returned, so any later call on any connection continues from there.
    public func readDirectory(_ directory: FileID, after cookie: UInt64, countMax: Int, context: OperationContext)
        async throws -> DirectoryPage
    {
        guard countMax > 0 else { throw FileSystemError.invalidArgument("directory page of \(countMax) entries") }
        let count = min(countMax, Limits.directoryPageEntriesMax)
        return try await run { [self] in
            let location = try index.locate(directory)
            guard location.isDirectory else {
                throw FileSystemError(.notDirectory, "\(location.subject) is not a directory")
            }
            guard let stream = opendir(location.path) else {
                throw FileSystemError.fromErrno("opendir", location.subject)
            }
            defer { closedir(stream) }
            if cookie != 0 { seekdir(stream, Int(bitPattern: UInt(cookie))) }
            let names = try readNames(stream, location: location, count: count)
            var entries: [DirectoryEntry] = []
            entries.reserveCapacity(names.names.count)
            for name in names.names {
                let entry = EntryLocation(
                    parent: location, name: name, path: location.path + "/" + name,
                    subject: location.subject == "/" ? "/" + name : location.subject + "/" + name)
                do {
                    entries.append(DirectoryEntry(name: name, attributes: try describe(entry)))
                } catch let error as FileSystemError where error.code == .notFound {
                    continue  // removed since the directory was read
                }
            }
            return DirectoryPage(entries: entries, nextCookie: names.nextCookie)
        }
    }

    /// Reads up to `count` names, skipping `.`, `..` and the hidden index. Peeks one entry further so that the last
    /// page says it is the last (`nextCookie == nil`) rather than needing an extra empty page.
    private func readNames(_ stream: OpaquePointer, location: Location, count: Int) throws
        -> (names: [String], nextCookie: UInt64?)
    {
        var names: [String] = []
        var position = telldir(stream)
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
            if names.count == count { return (names, UInt64(bitPattern: Int64(position))) }
            names.append(name)
            position = telldir(stream)
        }
    }
}
