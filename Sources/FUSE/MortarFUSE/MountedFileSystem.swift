import CFuse
import Glibc
import Logging
import Mortar
import MortarCore
import MortarTransport
import NIOCore
import Synchronization

/// A volume as the kernel sees it through FUSE: the low-level requests (by node id and file handle) turned into
/// calls on the volume's layer stack (by FileID and open file).
///
/// Each request runs as a task tracked by ``RequestTracker`` and replies when the volume answers, so the libfuse
/// thread that read it is free at once. Errors reach the kernel as the errno of their ``FileSystemError``, the
/// one place (besides the C ABI) where Mortar's errors become numbers.
final class MountedFileSystem: Sendable {
    let volume: Volume
    let options: MountOptions
    let logger: Logger
    let inodes = Mutex(InodeTable())
    let files = Mutex(OpenFileTable())
    let directories = Mutex(DirectoryTable())
    let requests: RequestTracker
    let absentAttributes: Mutex<AbsentAttributeCache>
    /// Changes made through the mount: how many began, and how many are running. A directory page read while no
    /// change ran, and before the latest one began, may be handed to the kernel again; any other is read afresh,
    /// since its attributes could be older than ones the kernel has seen since (see DirectoryStream).
    let changesBegun = Atomic<UInt64>(0)
    let changesRunning = Atomic<Int>(0)

    var stack: any FileOperations { volume.stack }

    init(volume: Volume, options: MountOptions, logger: Logger, eventLoop: (any EventLoop)? = nil) {
        self.volume = volume
        self.options = options
        self.logger = logger
        requests = RequestTracker(executor: eventLoop.map(EventLoopTaskExecutor.init))
        absentAttributes = Mutex(AbsentAttributeCache(lifetime: .milliseconds(Int64(options.attributeTimeout * 1000))))
    }

    /// Runs `body` for `request` as a tracked task, with the calling process's identity. `body` replies on
    /// success; an error it throws becomes the request's errno.
    func serve(_ request: Request, _ body: @escaping @Sendable (OperationContext) async throws -> Void) {
        let context = request.context(logger: logger)
        requests.start { [logger] in
            do {
                try await body(context)
            } catch {
                let failure = FileSystemError.wrapping(error)
                Self.log(failure, logger: logger)
                request.fail(failure.code.rawValue)
            }
        }
    }

    /// Runs `body` like ``serve(_:_:)`` for a request that changes something, counted as described at
    /// ``changesBegun``.
    func serveChange(_ request: Request, _ body: @escaping @Sendable (OperationContext) async throws -> Void) {
        serve(request) { context in
            self.changesRunning.add(1, ordering: .sequentiallyConsistent)
            self.changesBegun.add(1, ordering: .sequentiallyConsistent)
            defer { self.changesRunning.subtract(1, ordering: .sequentiallyConsistent) }
            try await body(context)
        }
    }

    /// The token a directory page read now is filed under: nil while a change runs or began during the reads.
    func quietGeneration() -> UInt64? {
        let before = changesBegun.load(ordering: .sequentiallyConsistent)
        guard changesRunning.load(ordering: .sequentiallyConsistent) == 0 else { return nil }
        return changesBegun.load(ordering: .sequentiallyConsistent) == before ? before : nil
    }

    /// Errors that mean the volume is in trouble are worth a warning; the rest are the caller's business.
    private static func log(_ failure: FileSystemError, logger: Logger) {
        switch failure.code {
        case .inputOutput, .notConnected, .timedOut, .connectionRefused, .connectionReset, .protocolError:
            logger.warning("request failed", metadata: ["error": "\(failure)"])
        default:
            logger.debug("request failed", metadata: ["error": "\(failure)"])
        }
    }

    // MARK: Nodes and handles

    func fileID(of node: UInt64) throws -> FileID {
        guard let id = inodes.withLock({ $0.id(of: node) }) else {
            throw FileSystemError(.staleHandle, "node \(node) is not known to the mount")
        }
        return id
    }

    func openHandle(_ info: UnsafeMutablePointer<fuse_file_info>?) throws -> OpenHandle {
        guard let info else { throw FileSystemError(.badFileHandle, "request carries no file handle") }
        return try files.withLock { try $0.handle(info.pointee.fh) }
    }

    /// The handle a request carries, if it carries one the mount knows.
    func existingHandle(_ info: UnsafeMutablePointer<fuse_file_info>?) -> OpenHandle? {
        guard let info else { return nil }
        // An unknown handle is no handle: callers answer EBADF.
        return try? files.withLock { try $0.handle(info.pointee.fh) }
    }

    /// Replies with an entry for `attributes`, counting the lookup the kernel then holds; if the reply does not
    /// reach the kernel (the request was interrupted) the count is taken back.
    func replyEntry(_ request: Request, _ attributes: FileAttributes) throws {
        let node = try inodes.withLock { try $0.remember(attributes) }
        var entry = entryParameters(node: node, attributes)
        if fuse_reply_entry(request.raw, &entry) != 0 {
            inodes.withLock { $0.forget(node, count: 1) }
        }
    }

    func entryParameters(node: UInt64, _ attributes: FileAttributes) -> fuse_entry_param {
        var entry = fuse_entry_param()
        entry.ino = node
        entry.generation = 0
        entry.attr = stat(attributes)
        entry.attr_timeout = options.attributeTimeout
        entry.entry_timeout = options.entryTimeout
        return entry
    }

    func replyAttributes(_ request: Request, _ attributes: FileAttributes) {
        var status = stat(attributes)
        fuse_reply_attr(request.raw, &status, options.attributeTimeout)
    }

    /// How the brick opens a file for a kernel open: O_DIRECT only steers this client's page cache (on the brick it
    /// would need aligned buffers and sizes, which neither its read buffers nor a kernel request promise), and with
    /// the writeback cache the kernel may read pages of a write-only file and appends by itself.
    func brickFlags(forKernel posixFlags: Int32) -> OpenFlags {
        var flags = OpenFlags(posixFlags: posixFlags).subtracting(.direct)
        if options.writebackCache {
            if flags.contains(.write) { flags.insert(.read) }
            flags.remove(.append)
        }
        return flags
    }

    /// The kernel bypasses its page cache for a handle opened with O_DIRECT, or for every file with `-o direct_io`.
    func setCaching(_ info: inout fuse_file_info, posixFlags: Int32) {
        let direct = options.directIO || posixFlags & cfuse_o_direct != 0
        let keep = options.keepCache
        withUnsafeMutablePointer(to: &info) { cfuse_file_info_set($0, direct ? 1 : 0, keep ? 1 : 0, 0) }
    }

    /// Releases what is still open and waits (bounded) for requests in flight, when the session ends. Returns
    /// whether every request finished, so the session may be destroyed.
    func shutDown() async -> Bool {
        let finished = await requests.cancelAll(waitingAtMost: Limits.mountDrainMilliseconds)
        let open = files.withLock { $0.removeAll() }
        let context = OperationContext(logger: logger)
        for file in open {
            // Cleanup: the kernel never got this handle, and the error already answered it.
            try? await stack.release(file, context: context)
        }
        return finished
    }
}

/// Open directories on the mount, by the handle number the kernel echoes back.
struct DirectoryTable: Sendable {
    private var streams: [UInt64: DirectoryStream] = [:]
    private var nextHandle: UInt64 = 1

    mutating func add(_ stream: DirectoryStream) throws -> UInt64 {
        guard streams.count < Limits.mountOpenHandlesMax else {
            throw FileSystemError(.tooManyOpenFiles, "the mount has \(streams.count) directories open already")
        }
        let number = nextHandle
        nextHandle += 1
        streams[number] = stream
        return number
    }

    func stream(_ number: UInt64) throws -> DirectoryStream {
        guard let stream = streams[number] else {
            throw FileSystemError(.badFileHandle, "no open directory with handle \(number) on this mount")
        }
        return stream
    }

    mutating func remove(_ number: UInt64) {
        streams[number] = nil
    }
}
