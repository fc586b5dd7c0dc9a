#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The one error type of every operation: a POSIX error number plus a message that says what was wrong.
///
/// Layers throw it for operating errors (a missing file, a full disk, a brick gone). It becomes a raw `errno`
/// exactly once, at the C ABI and FUSE edges, through ``Code/rawValue``.
public struct FileSystemError: Error, Hashable, Sendable, CustomStringConvertible {
    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// `message: reason`, the way `perror` prints, e.g. "open /a/b: No such file or directory". A message that
    /// already says the reason (one error's message quoted in another's, "… (… : Connection refused)") is not
    /// followed by it a second time.
    public var description: String {
        let reason = code.description
        if message.isEmpty { return reason }
        if message.lowercased().contains(reason.lowercased()) { return message }
        return "\(message): \(reason)"
    }

    /// A POSIX error number with a readable name.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }

        public static let operationNotPermitted = Code(rawValue: EPERM)
        public static let notFound = Code(rawValue: ENOENT)
        public static let interrupted = Code(rawValue: EINTR)
        public static let inputOutput = Code(rawValue: EIO)
        public static let noSuchDeviceOrAddress = Code(rawValue: ENXIO)
        public static let argumentListTooLong = Code(rawValue: E2BIG)
        public static let badFileHandle = Code(rawValue: EBADF)
        public static let wouldBlock = Code(rawValue: EAGAIN)
        public static let outOfMemory = Code(rawValue: ENOMEM)
        public static let tooManyOpenFiles = Code(rawValue: EMFILE)
        public static let permissionDenied = Code(rawValue: EACCES)
        public static let busy = Code(rawValue: EBUSY)
        public static let exists = Code(rawValue: EEXIST)
        public static let crossDevice = Code(rawValue: EXDEV)
        public static let notDirectory = Code(rawValue: ENOTDIR)
        public static let isDirectory = Code(rawValue: EISDIR)
        public static let invalidArgument = Code(rawValue: EINVAL)
        public static let fileTooLarge = Code(rawValue: EFBIG)
        public static let noSpace = Code(rawValue: ENOSPC)
        public static let illegalSeek = Code(rawValue: ESPIPE)
        public static let readOnlyFileSystem = Code(rawValue: EROFS)
        public static let tooManyLinks = Code(rawValue: EMLINK)
        public static let resultOutOfRange = Code(rawValue: ERANGE)
        public static let deadlock = Code(rawValue: EDEADLK)
        public static let nameTooLong = Code(rawValue: ENAMETOOLONG)
        public static let noLocks = Code(rawValue: ENOLCK)
        public static let notImplemented = Code(rawValue: ENOSYS)
        public static let notEmpty = Code(rawValue: ENOTEMPTY)
        public static let symbolicLinkLoop = Code(rawValue: ELOOP)
        public static let noData = Code(rawValue: ENODATA)
        public static let protocolError = Code(rawValue: EPROTO)
        public static let notSupported = Code(rawValue: EOPNOTSUPP)
        public static let notConnected = Code(rawValue: ENOTCONN)
        public static let connectionRefused = Code(rawValue: ECONNREFUSED)
        public static let connectionReset = Code(rawValue: ECONNRESET)
        public static let timedOut = Code(rawValue: ETIMEDOUT)
        public static let staleHandle = Code(rawValue: ESTALE)
        public static let quotaExceeded = Code(rawValue: EDQUOT)
        public static let canceled = Code(rawValue: ECANCELED)
        public static let alreadyInProgress = Code(rawValue: EALREADY)
        public static let protocolNotSupported = Code(rawValue: EPROTONOSUPPORT)
        public static let badDescriptorState = Code(rawValue: EBADFD)
        public static let valueOverflow = Code(rawValue: EOVERFLOW)
        public static let badAddress = Code(rawValue: EFAULT)
        /// A replica set's membership changed under the request (its epoch is not the member's): the sender
        /// fetches the new membership and sends again. Never reaches applications; no brick uses EREMCHG else.
        public static let membershipChanged = Code(rawValue: EREMCHG)
        /// A rebalance is moving the file to another brick (``ControlRequest/fence(_:)``): the distribute layer
        /// waits a moment and asks where the file lives again. Never reaches applications within
        /// `Limits.migrationWaitMilliseconds`; no brick uses EINPROGRESS else.
        public static let beingMoved = Code(rawValue: EINPROGRESS)

        public var description: String {
            guard let text = strerror(rawValue) else { return "errno \(rawValue)" }
            return String(cString: text)
        }
    }
}

extension FileSystemError {
    public static func notFound(_ message: String) -> FileSystemError { .init(.notFound, message) }
    public static func invalidArgument(_ message: String) -> FileSystemError { .init(.invalidArgument, message) }
    public static func inputOutput(_ message: String) -> FileSystemError { .init(.inputOutput, message) }
    public static func notConnected(_ message: String) -> FileSystemError { .init(.notConnected, message) }
    public static func protocolError(_ message: String) -> FileSystemError { .init(.protocolError, message) }
    /// A control message sent to a layer that is not a member of a replica set (``FileOperations/control(_:context:)``).
    public static func notAReplicaMember(_ request: ControlRequest, _ what: String) -> FileSystemError {
        .init(.notSupported, "\(request.name) sent to \(what), which is not a member of a replica set")
    }

    /// Wraps any error as a ``FileSystemError``; an error that is not one already becomes EIO with its text.
    public static func wrapping(_ error: any Error) -> FileSystemError {
        if let fileSystemError = error as? FileSystemError { return fileSystemError }
        if error is CancellationError { return FileSystemError(.canceled, "operation was cancelled") }
        return FileSystemError(.inputOutput, "\(error)")
    }

    /// The error for the current `errno` after a failed system call named `call` on `subject`.
    public static func fromErrno(_ call: String, _ subject: String, errno value: Int32 = errno) -> FileSystemError {
        FileSystemError(Code(rawValue: value), "\(call) \(subject)")
    }
}

extension FileSystemError {
    /// What `body` returns, or nil when it fails with ENOENT — the one answer that means "absent". Every other
    /// error (EIO, ENOTCONN, ETIMEDOUT, a permission) is rethrown: a failure to look is not an absence, and taking
    /// it for one would let a guard or a heal act on a guess.
    public static func nilIfNotFound<Result>(_ body: () async throws -> Result) async throws -> Result? {
        do {
            return try await body()
        } catch let error as FileSystemError where error.code == .notFound {
            return nil
        }
    }
}
