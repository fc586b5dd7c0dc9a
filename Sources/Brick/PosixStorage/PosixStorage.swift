import Glibc
import Logging
import MortarCore
import NIOCore
import NIOPosix
import Synchronization

/// The brick's storage: the operation table over a local directory.
///
/// Files are stored natively (volume path `a/b/c` is `ROOT/a/b/c`), so an administrator can read a brick directly.
/// The storage reaches them through descriptors (the brick directory's, held open, and directories opened per
/// operation), never through `ROOT/a/b/c` itself, so the brick directory's length never limits volume paths.
/// Every object carries its FileID in the extended attribute `trusted.mortar.id`, and the hidden handle index under
/// `ROOT/.mortar/handles` reaches it by FileID after renames (see ``HandleIndex``). Every blocking call runs on the
/// given `NIOThreadPool`, never on the cooperative pool.
public final class PosixStorage: FileOperations {
    let index: HandleIndex
    let threadPool: NIOThreadPool
    let logger: Logger
    let openFiles: Mutex<OpenFileTable>
    /// Where ``grantLocalRead(of:context:)`` offers descriptors; nil on a brick without a local socket.
    let localReads: LocalReadGrants?
    let allocator = ByteBufferAllocator()
    /// Whether reads try the page cache first (see `readFromCache`); off for good once the file system says it
    /// cannot answer without waiting.
    let cachedReads = Atomic<Bool>(true)
    let cachedReadCount = Atomic<UInt64>(0)
    /// Jobs handed to the I/O pool that no pool thread has started yet.
    let queuedJobs = Atomic<Int>(0)

    /// Requests waiting for an I/O pool thread now: the disk (or the pool) is behind when this stays above zero.
    public var queuedJobCount: Int { queuedJobs.load(ordering: .relaxed) }

    /// Reads answered from the page cache on the calling thread, without the I/O pool (since the brick started).
    public var readsServedFromCache: UInt64 { cachedReadCount.load(ordering: .relaxed) }
    /// Small buffered writes made on the calling thread (see ``write(_:to:at:context:)``).
    let writeLane: InlineLane
    /// Lookups and attribute reads made on the calling thread (see ``InlineLane``).
    let metadataLane: InlineLane
    /// Writes made on the calling thread, without the I/O pool (since the brick started).
    public var writesMadeInline: UInt64 { writeLane.count }
    /// Metadata requests (lookups, attributes, symbolic links) answered on the calling thread, without the I/O pool.
    public var metadataAnsweredInline: UInt64 { metadataLane.count }
    /// Where listings left off (see ``readDirectory(_:after:countMax:context:)``).
    let cursors = DirectoryCursors()
    let skippedEntries = Atomic<UInt64>(0)

    /// Directory entries read past, in all, to find where a listing continues when no stream was kept for it: 0
    /// for listings read page after page (for tests and metrics).
    public var entriesSkippedToResumeListings: UInt64 { skippedEntries.load(ordering: .relaxed) }

    private init(
        index: HandleIndex, threadPool: NIOThreadPool, logger: Logger, openFilesMax: Int, localReads: LocalReadGrants?,
        inlineWriteSlowMicroseconds: Int64, inlineMetadataSlowMicroseconds: Int64
    ) {
        self.writeLane = InlineLane(name: "a write", slowMicroseconds: inlineWriteSlowMicroseconds)
        self.metadataLane = InlineLane(name: "a metadata request", slowMicroseconds: inlineMetadataSlowMicroseconds)
        self.index = index
        self.localReads = localReads
        self.threadPool = threadPool
        self.logger = logger
        self.openFiles = Mutex(OpenFileTable(capacity: openFilesMax))
    }

    /// Opens the brick directory `root` for serving: checks that it is a directory, creates the hidden handle index,
    /// and gives the root directory ``FileID/root``. Safe to call again on every start.
    ///
    /// - Parameters:
    ///   - openFilesMax: how many files may be open at once; more fail with EMFILE.
    ///   - localReads: where descriptors for short-circuit local reads are offered (the brick's hand-off socket
    ///     claims them); nil answers every `grantLocalRead` with EOPNOTSUPP.
    ///   - inlineWriteSlowMicroseconds: a write made on the calling thread that takes longer sends writes through
    ///     the pool for `Limits.brickInlinePauseMilliseconds` (``InlineLane``).
    ///   - inlineMetadataSlowMicroseconds: the same for lookups and attribute reads.
    public static func prepare(
        root: String, threadPool: NIOThreadPool, logger: Logger,
        openFilesMax: Int = Limits.openFilesPerBrickMax,
        directoriesCachedMax: Int = Limits.directoryDescriptorsCachedMax, localReads: LocalReadGrants? = nil,
        inlineWriteSlowMicroseconds: Int64 = Limits.brickInlineWriteSlowMicroseconds,
        inlineMetadataSlowMicroseconds: Int64 = Limits.brickInlineMetadataSlowMicroseconds
    ) async throws -> PosixStorage {
        guard openFilesMax > 0 else { throw FileSystemError.invalidArgument("openFilesMax must be positive") }
        var trimmed = root
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed.removeLast() }
        guard !trimmed.isEmpty, trimmed != "/" else {
            throw FileSystemError.invalidArgument("brick directory '\(root)' is empty or the file system root")
        }
        let index: HandleIndex
        let brickDirectory = trimmed
        do {
            index = try await threadPool.runIfActive {
                try HandleIndex.open(root: brickDirectory, logger: logger, directoriesCachedMax: directoriesCachedMax)
            }
        } catch {
            throw FileSystemError.wrapping(error)
        }
        // From here the storage owns the index's descriptors and closes them when it goes.
        let storage = PosixStorage(
            index: index, threadPool: threadPool, logger: logger, openFilesMax: openFilesMax, localReads: localReads,
            inlineWriteSlowMicroseconds: inlineWriteSlowMicroseconds,
            inlineMetadataSlowMicroseconds: inlineMetadataSlowMicroseconds)
        try await storage.run { try storage.prepareRoot() }
        logger.info("brick storage ready", metadata: ["root": "\(trimmed)"])
        return storage
    }

    deinit {
        cursors.closeAll()
        index.close()
    }

    /// How many files are open now (for tests and metrics).
    public var openHandleCount: Int { openFiles.withLock { $0.count } }

    /// Gives the brick directory the root's FileID and index entry, or checks that it has them.
    private func prepareRoot() throws {
        let root = index.root
        let object = index.rootLocation.object
        if let existing = try SystemCall.fileID(at: object, "brick directory \(root)") {
            guard existing == .root else {
                throw FileSystemError(
                    .invalidArgument, "brick directory \(root) is directory \(existing) of another brick, not a root")
            }
        } else {
            try SystemCall.setFileID(.root, at: object, "brick directory \(root)")
        }
        do {
            try index.addDirectoryEntry(id: .root, parent: .root, name: "")
        } catch let error as FileSystemError where error.code == .exists {
            return
        }
    }

    // MARK: Helpers shared by the operation files

    /// Runs blocking work on the thread pool; any error becomes a ``FileSystemError``.
    ///
    /// A pool that no longer runs means the brick is shutting down: that is ENOTCONN ("this brick is going away",
    /// which clients answer by reconnecting and retrying), not an I/O error on the file.
    func run<Result: Sendable>(_ body: @escaping @Sendable () throws -> Result) async throws -> Result {
        // Counted out when a thread takes the job, or below when the pool refused it (the job never ran).
        queuedJobs.add(1, ordering: .relaxed)
        do {
            return try await threadPool.runIfActive { [self] in
                queuedJobs.subtract(1, ordering: .relaxed)
                return try body()
            }
        } catch is NIOThreadPoolError.ThreadPoolInactive {
            queuedJobs.subtract(1, ordering: .relaxed)
            throw FileSystemError.notConnected("brick \(index.root) is shutting down")
        } catch {
            throw FileSystemError.wrapping(error)
        }
    }

    /// The descriptor behind a handle this storage issued, or EBADF.
    func descriptor(of file: OpenFile) throws -> OwnedDescriptor {
        guard let descriptor = openFiles.withLock({ $0.descriptor(for: file.handle) }), descriptor.id == file.id else {
            throw FileSystemError(.badFileHandle, "no open file with handle \(file.handle) for FileID \(file.id)")
        }
        return descriptor
    }

    /// Registers an open descriptor and returns its handle; EMFILE when the table is full (the descriptor closes).
    func register(_ descriptor: Int32, id: FileID, context: OperationContext) throws -> OpenFile {
        let owned = OwnedDescriptor(descriptor, id: id)
        guard let handle = openFiles.withLock({ $0.insert(owned) }) else {
            throw FileSystemError(
                .tooManyOpenFiles, "too many open files on this brick (limit \(openFiles.withLock { $0.capacity }))")
        }
        return OpenFile(id: id, handle: handle)
    }
}
