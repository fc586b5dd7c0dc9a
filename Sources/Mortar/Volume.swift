import Glibc
import Logging
import MortarCore
import NIOCore
import Synchronization

/// A connected volume: the entry point of the client library (GlusterFS's `glfs_t`).
///
/// Paths are volume paths: `/a/b` and `a/b` both name `b` inside `a` at the volume root (relative paths start at
/// the working directory, which is the root until ``changeDirectory(_:)``). Every method is async; the
/// `Blocking` forms wrap them for threads that cannot await. A `Volume` is safe to use from many tasks at once.
public final class Volume: Sendable {
    /// The top of the layer stack every call goes through (``ReadAheadCoherence`` over ``WriteBehind`` over the
    /// stack it was given).
    public let stack: any FileOperations
    /// Acknowledges writes before the bricks have them while ``run()`` runs (see ``WriteBehind``).
    let writeBehind: WriteBehind
    /// What read-ahead windows hold together, and the generation changes through this volume move.
    let readAheadBudget = ReadAheadBudget()
    /// The volume's name and identity, from its spec.
    public let name: String
    public let volumeID: String
    let logger: Logger
    let state: Mutex<VolumeState>
    let onClose: @Sendable () async -> Void
    /// Read once: `getpid` is a system call, and every operation carries the caller's process id.
    let processID = Int32(getpid())

    struct VolumeState {
        var credentials = Credentials()
        var workingDirectory = "/"
        var parentOfRootIsRoot = false
        var isClosed = false
        var directoryEntries = DirectoryEntryCache(
            lifetime: .milliseconds(Int64(Limits.directoryEntryCacheLifetimeMillisecondsMax)),
            capacity: Limits.directoryEntryCacheEntriesMax)
        var readAhead = true
    }

    /// The identity operations are performed as; files are created owned by it.
    public struct Credentials: Sendable, Hashable {
        public var userID: UInt32 = 0
        public var groupID: UInt32 = 0
        public var supplementaryGroupIDs: [UInt32] = []
        public init(userID: UInt32 = 0, groupID: UInt32 = 0, supplementaryGroupIDs: [UInt32] = []) {
            self.userID = userID
            self.groupID = groupID
            self.supplementaryGroupIDs = supplementaryGroupIDs
        }
    }

    /// Wraps an already built stack (tests build small stacks by hand; ``connect(volume:servers:logger:)`` builds
    /// the real one from the volume's spec).
    public init(
        stack: any FileOperations, name: String = "local", volumeID: String = "", logger: Logger? = nil,
        onClose: @escaping @Sendable () async -> Void = {}
    ) {
        let logger = logger ?? Logger(label: "mortar.client")
        self.writeBehind = WriteBehind(next: stack, logger: logger)
        self.stack = ReadAheadCoherence(next: writeBehind, budget: readAheadBudget)
        self.name = name
        self.volumeID = volumeID
        self.logger = logger
        self.state = Mutex(VolumeState())
        self.onClose = onClose
    }

    /// Whether files opened from now on read ahead of sequential readers (on unless the volume's
    /// `performance.read-ahead` option is off; files opened with O_DIRECT never do). See ``ReadAheadWindow``.
    public var readsAhead: Bool {
        get { state.withLock { $0.readAhead } }
        set { state.withLock { $0.readAhead = newValue } }
    }

    /// Whether writes are acknowledged before the bricks have them while ``run()`` runs (on unless the volume's
    /// `performance.write-behind` option is off; never for files opened with O_SYNC, O_DSYNC, O_DIRECT or
    /// O_APPEND). An acknowledged write is durable once a later `synchronize` of its file succeeds; if it fails,
    /// the file's next write, synchronize, flush or close returns the error. See ``WriteBehind``.
    public var writesBehind: Bool {
        get { writeBehind.isEnabled }
        set { writeBehind.isEnabled = newValue }
    }

    /// Bytes acknowledged by write-behind that no brick has confirmed yet.
    public var writeBehindByteCount: Int { writeBehind.byteCount }

    /// Does the volume's background work — sending the writes write-behind acknowledged — until the volume is
    /// closed or the calling task is cancelled; run it as a child of the owner's task group. Write-behind is off
    /// unless this runs. When it returns, every write it acknowledged has landed or failed.
    public func run() async {
        await writeBehind.run()
    }

    /// Bytes the volume's read-ahead windows hold now.
    public var readAheadByteCount: Int { Limits.readAheadVolumeByteCountMax - readAheadBudget.availableByteCount }

    /// An identity for the calls made inside `Volume.$callerCredentials.withValue(…)`, in place of the volume's
    /// own: the C library's per-thread identities (`glfs_setfsuid`) bind it around each call.
    @TaskLocal public static var callerCredentials: Credentials?

    /// Performs operations as this identity from now on.
    public func setCredentials(_ credentials: Credentials) {
        state.withLock { $0.credentials = credentials }
    }

    /// What `..` at the volume root names: by default nothing (a path that climbs above the root is refused with
    /// EACCES, so a path given to the CLI can never seem to leave the volume); with `true` the root itself, as in
    /// POSIX and GlusterFS's library — the C drop-in's choice, since its programs stat "/.." (Samba, listing the
    /// root of a share) and expect the root.
    public func setParentOfRootIsRoot(_ isRoot: Bool) {
        state.withLock { $0.parentOfRootIsRoot = isRoot }
    }

    /// Disconnects from every brick, once the writes write-behind acknowledged have landed (``run()`` then
    /// returns). Files still open fail afterwards with EBADF/ENOTCONN.
    public func close() async {
        let wasOpen = state.withLock { state -> Bool in
            defer { state.isClosed = true }
            return !state.isClosed
        }
        guard wasOpen else { return }
        await writeBehind.stop()
        await onClose()
    }

    func context() throws -> OperationContext {
        var (credentials, isClosed) = state.withLock { ($0.credentials, $0.isClosed) }
        if let override = Self.callerCredentials { credentials = override }
        guard !isClosed else { throw FileSystemError(.badFileHandle, "volume \(name) is closed") }
        return OperationContext(
            userID: credentials.userID, groupID: credentials.groupID,
            supplementaryGroupIDs: credentials.supplementaryGroupIDs, processID: processID, logger: logger)
    }
}
