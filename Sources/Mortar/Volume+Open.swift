import MortarCore

extension Volume {
    /// Opens (and with `.create`, creates) the file at `path`. `.create` + `.exclusive` fails with EEXIST if it
    /// exists; `.truncate` empties it. Directories cannot be opened as files (use ``openDirectory(_:)``).
    /// With `onlyRegularFiles` (GlusterFS's library semantics), anything but a regular file is refused: a directory
    /// with EISDIR, anything else with EINVAL.
    public func open(
        _ path: String, flags: OpenFlags = .read, permissions: UInt32 = 0o644, onlyRegularFiles: Bool = false
    ) async throws -> File {
        let context = try context()
        guard flags.contains(.create) else {
            let attributes: FileAttributes
            switch try await lookUpAndRead(path, flags: flags, context: context) {
            case .opened(let file):
                return file
            case .found(let found):
                attributes = found
            case nil:
                attributes = try await resolve(path, followLast: !flags.contains(.noFollow), context: context)
            }
            if onlyRegularFiles { try Self.requireRegular(attributes, path: path) }
            try Self.checkOpenable(attributes, flags: flags, path: path)
            if let file = try await openSmallFile(attributes, flags: flags, path: path, context: context) {
                return file
            }
            let file = try await stack.open(attributes.id, flags: flags, context: context)
            return File(volume: self, file: file, flags: flags, path: path)
        }
        let (parent, name) = try await resolveParent(path, context: context)
        if flags.contains(.exclusive) {
            // Whatever the name is (even a symbolic link), an exclusive create fails with EEXIST, which the stack's
            // create reports itself: no lookup first.
            let created = try await stack.create(
                name, in: parent, id: .random(), permissions: permissions, flags: flags, context: context)
            return File(volume: self, file: created.file, flags: flags, path: path)
        }
        do {
            let existing = try await stack.lookup(name, in: parent, context: context)
            guard !flags.contains(.exclusive) else { throw FileSystemError(.exists, "'\(path)' already exists") }
            if existing.type == .symbolicLink, !flags.contains(.noFollow) {
                return try await open(path, flags: flags.subtracting([.create, .exclusive]), permissions: permissions)
            }
            try Self.checkOpenable(existing, flags: flags, path: path)
            let file = try await stack.open(existing.id, flags: flags.subtracting([.create, .exclusive]),
                                            context: context)
            return File(volume: self, file: file, flags: flags, path: path)
        } catch let error as FileSystemError where error.code == .notFound {
            let created = try await stack.create(
                name, in: parent, id: .random(), permissions: permissions, flags: flags, context: context)
            return File(volume: self, file: created.file, flags: flags, path: path)
        }
    }

    /// What ``lookUpAndRead(_:flags:context:)`` found.
    private enum LookedUp {
        /// A regular file, open, its head priming the read-ahead window.
        case opened(File)
        /// What the name is, not opened (see `FileOperations.lookupAndRead`): the caller checks and opens it.
        case found(FileAttributes)
    }

    /// An open for reading in one exchange: the last name of `path` is looked up, and a regular file it names is
    /// opened and its first `Limits.quickReadByteCountMax` bytes read, by the brick that holds it
    /// (`lookupAndRead`); the head primes the file's read-ahead window, served and invalidated as any window. Nil
    /// when that does not apply — read-ahead off, O_DIRECT, an open that changes the file, no read-ahead memory
    /// left, a path that ends at the root, `.` or `..` — or the name is a symbolic link to follow: the caller
    /// resolves the path the usual way.
    private func lookUpAndRead(_ path: String, flags: OpenFlags, context: OperationContext) async throws -> LookedUp? {
        let requested = Limits.quickReadByteCountMax
        guard readsAhead, flags.contains(.read), flags.isDisjoint(with: OpenFlags.changing.union([.direct, .directory])),
            let last = Self.components(absolute(path)).last, last != ".", last != ".."
        else { return nil }
        let (parent, name) = try await resolveParent(path, context: context)
        guard readAheadBudget.reserve(requested) else { return nil }
        let generation = readAheadBudget.generation
        let found: FoundFile
        do {
            found = try await stack.lookupAndRead(name, in: parent, flags: flags, count: requested, context: context)
        } catch let error as FileSystemError where error.code == .notFound {
            readAheadBudget.release(requested)
            throw Self.missing(name, under: [], path: path, isFinal: true)
        } catch {
            readAheadBudget.release(requested)
            throw error
        }
        guard let opened = found.opened else {
            readAheadBudget.release(requested)
            if found.attributes.type == .symbolicLink, !flags.contains(.noFollow) { return nil }
            return .found(found.attributes)
        }
        let file = File(volume: self, file: opened.file, flags: flags, path: path)
        if let readAhead = file.readAhead {
            readAhead.prime(head: opened.head, requested: requested, reserved: requested, generation: generation)
        } else {
            readAheadBudget.release(requested)  // not reached: the conditions above are the ones that give a window
        }
        return .opened(file)
    }

    /// A small regular file (under `Limits.quickReadByteCountMax`) opened for reading comes back whole with its open (`openAndRead`, GlusterFS's
    /// quick-read): its reads are then served from that head as from a read-ahead window, with the same
    /// coherence (this process's changes at once, other clients' within `Limits.readAheadStaleMilliseconds`). Nil
    /// when the file or the open does not qualify — read-ahead off, O_DIRECT, an open that changes the file, a file
    /// of `Limits.quickReadByteCountMax` or more (a head that short of what was asked marks the end of the file) — or the volume's read-ahead memory is spent.
    private func openSmallFile(
        _ attributes: FileAttributes, flags: OpenFlags, path: String, context: OperationContext
    ) async throws -> File? {
        let requested = Limits.quickReadByteCountMax
        guard readsAhead, attributes.type == .regular, attributes.size < UInt64(requested), flags.contains(.read),
            flags.isDisjoint(with: OpenFlags.changing.union([.direct, .directory])),
            readAheadBudget.reserve(requested)
        else { return nil }
        let generation = readAheadBudget.generation
        let opened: OpenedFile
        do {
            opened = try await stack.openAndRead(attributes.id, flags: flags, count: requested, context: context)
        } catch {
            readAheadBudget.release(requested)
            throw error
        }
        let file = File(volume: self, file: opened.file, flags: flags, path: path)
        if let readAhead = file.readAhead {
            readAhead.prime(head: opened.head, requested: requested, reserved: requested, generation: generation)
        } else {
            readAheadBudget.release(requested)  // not reached: the conditions above are the ones that give a window
        }
        return file
    }

    /// Creates a new file, failing with EEXIST if `path` exists (`glfs_creat` semantics differ: see the C ABI).
    public func create(_ path: String, permissions: UInt32 = 0o644, flags: OpenFlags = .readWrite) async throws
        -> File
    {
        try await open(path, flags: flags.union([.create, .exclusive]), permissions: permissions)
    }

    /// Opens a directory for listing.
    public func openDirectory(_ path: String) async throws -> Directory {
        let context = try context()
        let attributes = try await resolve(path, context: context)
        guard attributes.type == .directory else {
            throw FileSystemError(.notDirectory, "'\(path)' is not a directory")
        }
        return Directory(volume: self, id: attributes.id)
    }

    /// Every entry of a directory, with attributes, read page by page.
    public func listDirectory(_ path: String) async throws -> [DirectoryEntry] {
        let directory = try await openDirectory(path)
        var entries: [DirectoryEntry] = []
        while let page = try await directory.nextPage() { entries += page }
        return entries
    }

    public static func requireRegular(_ attributes: FileAttributes, path: String) throws {
        if attributes.type == .directory { throw FileSystemError(.isDirectory, "'\(path)' is a directory") }
        if attributes.type != .regular { throw FileSystemError.invalidArgument("'\(path)' is not a regular file") }
    }

    private static func checkOpenable(_ attributes: FileAttributes, flags: OpenFlags, path: String) throws {
        if attributes.type == .directory, flags.contains(.write) || !flags.contains(.directory) {
            throw FileSystemError(.isDirectory, "'\(path)' is a directory")
        }
        if attributes.type == .symbolicLink {
            throw FileSystemError(.symbolicLinkLoop, "'\(path)' is a symbolic link and no-follow was asked")
        }
    }
}
