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
    /// (`lookupAndRead`). Nil when that does not apply (see ``fetchingHead(flags:_:head:)``, and a path that ends at
    /// the root or in `..`) or the name is a symbolic link to follow: the caller resolves the path the usual way.
    private func lookUpAndRead(_ path: String, flags: OpenFlags, context: OperationContext) async throws -> LookedUp? {
        guard fetchesHead(flags), let last = Self.components(absolute(path)).last, last != ".." else { return nil }
        let (parent, name) = try await resolveParent(path, context: context)
        let fetched = try await fetchingHead(flags: flags) { count in
            do {
                return try await stack.lookupAndRead(name, in: parent, flags: flags, count: count, context: context)
            } catch let error as FileSystemError where error.code == .notFound {
                throw Self.missing(name, under: [], path: path, isFinal: true)
            }
        } head: { $0.opened }
        guard let fetched else { return nil }
        if let head = fetched.head { return .opened(file(head, flags: flags, path: path)) }
        let attributes = fetched.answer.attributes
        if attributes.type == .symbolicLink, !flags.contains(.noFollow) { return nil }
        return .found(attributes)
    }

    /// A regular file under `Limits.quickReadByteCountMax` opened for reading comes back whole with its open
    /// (`openAndRead`, GlusterFS's quick-read). Nil when the file or the open does not qualify (see
    /// ``fetchingHead(flags:_:head:)``; a file of the bound or more, since only a head shorter than asked marks the
    /// end of the file).
    private func openSmallFile(
        _ attributes: FileAttributes, flags: OpenFlags, path: String, context: OperationContext
    ) async throws -> File? {
        guard attributes.type == .regular, attributes.size < UInt64(Limits.quickReadByteCountMax) else { return nil }
        let fetched = try await fetchingHead(flags: flags) { count in
            try await stack.openAndRead(attributes.id, flags: flags, count: count, context: context)
        } head: { $0 }
        guard let head = fetched?.head else { return nil }
        return file(head, flags: flags, path: path)
    }

    /// Whether an open with `flags` may fetch its file's head: read-ahead on, for reading, changing nothing, not
    /// O_DIRECT — the opens whose ``File`` reads ahead.
    private func fetchesHead(_ flags: OpenFlags) -> Bool {
        readsAhead && flags.contains(.read) && flags.isDisjoint(with: OpenFlags.changing.union([.direct, .directory]))
    }

    /// A head fetched with an open and the budget it is held in: `Limits.quickReadByteCountMax` bytes of the
    /// volume's read-ahead memory are reserved for the duration of `fetch`, and kept for the head `head` finds
    /// in its answer (priming the file's window gives back what the head does not use). Nil when the open does not
    /// qualify or the memory is spent.
    func fetchingHead<Answer>(
        flags: OpenFlags, _ fetch: (Int) async throws -> Answer, head: (Answer) -> OpenedFile?
    ) async throws -> (answer: Answer, head: PendingHead?)? {
        let requested = Limits.quickReadByteCountMax
        guard fetchesHead(flags), readAheadBudget.reserve(requested) else { return nil }
        let generation = readAheadBudget.generation
        let answer: Answer
        do {
            answer = try await fetch(requested)
        } catch {
            readAheadBudget.release(requested)
            throw error
        }
        guard let opened = head(answer) else {
            readAheadBudget.release(requested)
            return (answer, nil)
        }
        return (answer, PendingHead(opened: opened, requested: requested, generation: generation))
    }

    /// An open file and its head, whose memory is reserved in the read-ahead budget until ``file(_:flags:path:)``
    /// hands it to the file's window (or a ``FileHead`` holds it).
    struct PendingHead {
        var opened: OpenedFile
        var requested: Int
        var generation: UInt64
    }

    /// The ``File`` for an open that fetched its head, its read-ahead window primed with it.
    private func file(_ head: PendingHead, flags: OpenFlags, path: String) -> File {
        let file = File(volume: self, file: head.opened.file, flags: flags, path: path)
        if let readAhead = file.readAhead {
            readAhead.prime(
                head: head.opened.head, requested: head.requested, reserved: head.requested,
                generation: head.generation)
        } else {
            readAheadBudget.release(head.requested)  // not reached: `fetchesHead` holds only for opens with a window
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
