import CMortarLinux
import Glibc
import Logging
import MortarCore
import NIOPosix
import Synchronization

/// The socket next to a brick's Unix socket where local clients claim the descriptors of short-circuit reads
/// (`FileOperations.grantLocalRead`). Descriptors cannot travel in NIO's byte streams, so this is a small socket of
/// its own with one exchange per connection:
///
///     client → brick   16 bytes   the grant's token (big-endian)
///     brick  → client   1 byte    0 with the descriptor attached (SCM_RIGHTS), or 1 when the token is unknown,
///                                 claimed already or expired (no descriptor)
///
/// Then the brick closes the connection. A token is 128 random bits that only the session that asked for the grant
/// was told, so the socket needs no login of its own; it has the mode of the brick's Unix socket all the same.
public enum DescriptorHandoff {
    /// Where a brick whose Unix socket is `brickSocket` listens for claims.
    public static func socketPath(besides brickSocket: String) -> String { brickSocket + ".fd" }

    /// Claims the descriptor of `grant` at `path`: blocking, bounded by `Limits.localReadClaimMilliseconds` per
    /// send and receive. The caller owns the returned descriptor, which is checked to be a regular file open
    /// read-only; anything else is refused (closed) with EPROTO.
    public static func claim(_ grant: LocalReadGrant, at path: String) throws(FileSystemError) -> Int32 {
        let connection = cmortar_unix_connect(path, Int32(Limits.localReadClaimMilliseconds))
        guard connection >= 0 else { throw FileSystemError.fromErrno("connect", path) }
        defer { close(connection) }
        var token = [UInt8](repeating: 0, count: 16)
        for index in 0..<16 { token[index] = UInt8(truncatingIfNeeded: grant.token >> (8 * (15 - index))) }
        try sendAll(token, on: connection, path)
        var status: UInt8 = 0
        var descriptor: Int32 = -1
        guard cmortar_receive_descriptor(connection, &status, &descriptor) == 0 else {
            throw FileSystemError.fromErrno("recvmsg", path)
        }
        guard status == 0, descriptor >= 0 else {
            if descriptor >= 0 { close(descriptor) }
            throw FileSystemError(.permissionDenied, "\(path) refused the grant (status \(status))")
        }
        var attributes = stat()
        let mode = fcntl(descriptor, F_GETFL)
        guard fstat(descriptor, &attributes) == 0, attributes.st_mode & S_IFMT == S_IFREG, mode >= 0,
            mode & O_ACCMODE == O_RDONLY
        else {
            close(descriptor)
            throw FileSystemError.protocolError("\(path) handed over a descriptor that is not a file open read-only")
        }
        return descriptor
    }

    private static func sendAll(_ bytes: [UInt8], on socket: Int32, _ path: String) throws(FileSystemError) {
        var sent = 0
        while sent < bytes.count {
            let result = bytes.withUnsafeBytes { send(socket, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            if result < 0, errno == EINTR { continue }
            guard result > 0 else { throw FileSystemError.fromErrno("send", path) }
            sent += result
        }
    }
}

/// A brick's side of ``DescriptorHandoff``: accepts claims one at a time on a thread of its own and hands over the
/// descriptor `claim` gives up for a token. A client that connects and sends nothing holds the thread for at most
/// `Limits.localReadHandoffMilliseconds`; other claims wait in the listen backlog (`Limits.localReadHandoffBacklog`)
/// and a client whose claim fails reads over its connection instead.
public final class DescriptorHandoffServer: Sendable {
    public let path: String
    private let listener: Int32
    private let claim: @Sendable (UInt128) -> Int32?
    private let stopping = Atomic<Bool>(false)
    private let closed = Atomic<Bool>(false)
    private let logger: Logger

    /// Listens at `path` (replacing a stale socket there) with permissions `mode`.
    /// - Parameter claim: gives up the descriptor offered under a token, which the server then owns and closes.
    public init(path: String, mode: UInt32, logger: Logger, claim: @escaping @Sendable (UInt128) -> Int32?)
        throws(FileSystemError)
    {
        let listener = cmortar_unix_listen(path, mode, Int32(Limits.localReadHandoffBacklog))
        guard listener >= 0 else { throw FileSystemError.fromErrno("listen", path) }
        self.path = path
        self.listener = listener
        self.claim = claim
        self.logger = logger
    }

    /// Serves claims until the task is cancelled.
    public func run() async throws {
        let thread = NIOThreadPool(numberOfThreads: 1)
        thread.start()
        try await withTaskCancellationHandler {
            try await thread.runIfActive { self.acceptClaims() }
        } onCancel: {
            self.stop()
        }
        try await thread.shutdownGracefully()
    }

    deinit { closeListener() }

    /// Ends ``run()``: a blocked accept returns at once.
    public func stop() {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        shutdown(listener, Int32(SHUT_RDWR))
    }

    private func acceptClaims() {
        defer { closeListener() }
        while !stopping.load(ordering: .acquiring) {
            let connection = cmortar_accept_cloexec(listener)
            guard connection >= 0 else {
                let failure = errno
                if stopping.load(ordering: .acquiring) { return }
                switch failure {
                case EINTR, ECONNABORTED:
                    continue
                case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                    // Out of descriptors or memory for a moment: clients fall back to their connection meanwhile.
                    logger.warning("descriptor hand-off cannot accept: \(String(cString: strerror(failure)))")
                    usleep(10_000)
                    continue
                default:
                    logger.error("descriptor hand-off at \(path) stopped: \(String(cString: strerror(failure)))")
                    return
                }
            }
            serve(connection)
            close(connection)
        }
    }

    private func closeListener() {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        close(listener)
        unlink(path)
    }

    private func serve(_ connection: Int32) {
        guard cmortar_socket_timeouts(connection, Int32(Limits.localReadHandoffMilliseconds)) == 0 else { return }
        var token = [UInt8](repeating: 0, count: 16)
        var received = 0
        while received < token.count {
            let result = token.withUnsafeMutableBytes { recv(connection, $0.baseAddress! + received, 16 - received, 0) }
            if result < 0, errno == EINTR { continue }
            guard result > 0 else { return }  // gone, or silent past the timeout: nothing was claimed
            received += result
        }
        let value = token.reduce(UInt128(0)) { $0 << 8 | UInt128($1) }
        guard let descriptor = claim(value) else {
            _ = cmortar_send_descriptor(connection, 1, -1)  // the refusal is a courtesy: the client may be gone
            return
        }
        defer { close(descriptor) }
        if cmortar_send_descriptor(connection, 0, descriptor) != 0 {
            logger.debug("a local client left before its descriptor was handed over")
        }
    }
}
