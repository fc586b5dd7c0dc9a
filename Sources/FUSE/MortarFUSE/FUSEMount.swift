import CFuse
import Glibc
import Logging
import Mortar
import MortarCore
import NIOCore

/// Mounts a connected volume with libfuse's low-level API and serves it until it is unmounted.
///
/// The session loop runs on a thread of its own (it blocks), with up to `threads` workers each reading from its
/// own /dev/fuse descriptor (`clone_fd`). SIGTERM, SIGINT and SIGHUP end the loop; so does an unmount from
/// outside (`mortar umount`, `umount`, `fusermount3 -u`). Either way the mount then releases what is still open,
/// waits (bounded) for requests in flight, and unmounts.
public enum FUSEMount {
    /// How the serving ended.
    public struct Outcome: Sendable {
        /// The signal that stopped the mount, or nil when it was unmounted from outside.
        public var signal: Int32?
        /// libfuse's loop result: 0, or a negative errno.
        public var loopResult: Int32
    }

    /// Mounts `volume` at `mountPoint` (checked with ``checkMountPoint(_:)`` first) and serves it. `ready` runs
    /// once the kernel mount exists and the loop is running: from then on the mount point shows the volume.
    /// Requests run on `eventLoop` when one is given (best: the one the volume's connections use).
    public static func serve(
        _ volume: Volume, source: String, at mountPoint: String, options: MountOptions, logger: Logger,
        eventLoop: (any EventLoop)? = nil, ready: @Sendable () -> Void
    ) async throws -> Outcome {
        let fileSystem = MountedFileSystem(volume: volume, options: options, logger: logger, eventLoop: eventLoop)
        let session = try makeSession(fileSystem, source: source)
        guard fuse_session_mount(session, mountPoint) == 0 else {
            fuse_session_destroy(session)
            throw FileSystemError(.inputOutput, "the kernel refused to mount \(mountPoint) (see libfuse's message)")
        }
        let loop = SessionLoop(session: session, options: options)
        let result: Int32 = await withCheckedContinuation { continuation in
            loop.start(finishing: continuation)
            if let readAhead = options.readAheadKiB {
                setReadAhead(kibibytes: readAhead, mountPoint: mountPoint, logger: logger)
            }
            ready()
        }
        let signal = cfuse_exit_signal()
        cfuse_remove_signal_handlers()
        logger.info("session loop ended", metadata: ["result": "\(result)", "signal": "\(signal)"])
        let drained = await fileSystem.shutDown()
        fuse_session_unmount(session)
        if drained {
            fuse_session_destroy(session)
        } else {
            // A request still running would reply into a destroyed session; the process is about to exit anyway.
            logger.warning("requests still running after the drain period; session left for the exit to clean up")
        }
        withExtendedLifetime(fileSystem) {}
        return Outcome(signal: signal == 0 ? nil : signal, loopResult: result)
    }

    /// The session with Mortar's operations and the libfuse options the mount options call for. libfuse keeps
    /// a raw pointer to `fileSystem`, which ``serve`` keeps alive until the session is gone.
    private static func makeSession(_ fileSystem: MountedFileSystem, source: String) throws -> OpaquePointer {
        var operations = LowLevelOperations.make()
        let arguments = ["mortar", "-o", fileSystem.options.libfuseOptions(source: source)]
        var pointers: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) }
        defer { pointers.forEach { free($0) } }
        let session = pointers.withUnsafeMutableBufferPointer { buffer -> OpaquePointer? in
            var fuseArguments = fuse_args(argc: Int32(arguments.count), argv: buffer.baseAddress, allocated: 0)
            defer { fuse_opt_free_args(&fuseArguments) }
            return fuse_session_new(
                &fuseArguments, &operations, MemoryLayout<fuse_lowlevel_ops>.size,
                Unmanaged.passUnretained(fileSystem).toOpaque())
        }
        guard let session else {
            throw FileSystemError.invalidArgument("libfuse refused the mount options (see its message)")
        }
        return session
    }

    /// Buffered reads ask for as much as the kernel's read-ahead; its default for FUSE (128 KiB) makes four
    /// round trips where one 1 MiB request would do. The knob is the mount's bdi in sysfs.
    static func setReadAhead(kibibytes: Int, mountPoint: String, logger: Logger) {
        guard let device = MountTable.current().first(where: { $0.mountPoint == mountPoint })?.device else {
            logger.warning("mount not found in /proc/self/mountinfo; read-ahead unchanged")
            return
        }
        let path = "/sys/class/bdi/\(device)/read_ahead_kb"
        guard let file = fopen(path, "w") else {
            logger.warning("cannot set read-ahead", metadata: ["path": "\(path)", "errno": "\(errno)"])
            return
        }
        fputs("\(kibibytes)\n", file)
        fclose(file)
    }
}

/// The thread that runs libfuse's multi-threaded loop and reports its end to an awaiting task.
private final class SessionLoop: @unchecked Sendable {
    let session: OpaquePointer
    let options: MountOptions
    private var continuation: CheckedContinuation<Int32, Never>?

    init(session: OpaquePointer, options: MountOptions) {
        self.session = session
        self.options = options
    }

    func start(finishing continuation: CheckedContinuation<Int32, Never>) {
        self.continuation = continuation
        var thread = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        let created = pthread_create(&thread, nil, { context in
            let loop = Unmanaged<SessionLoop>.fromOpaque(context!).takeRetainedValue()
            loop.run()
            return nil
        }, context)
        if created != 0 {
            Unmanaged<SessionLoop>.fromOpaque(context).release()
            continuation.resume(returning: -created)
        } else {
            pthread_detach(thread)
        }
    }

    private func run() {
        var result = cfuse_install_signal_handlers(session, pthread_self())
        if result == 0 {
            result = cfuse_session_loop(
                session, options.cloneDescriptor ? 1 : 0, UInt32(options.threadCount), UInt32(options.threadCount))
        }
        continuation?.resume(returning: result)
        continuation = nil
    }
}
