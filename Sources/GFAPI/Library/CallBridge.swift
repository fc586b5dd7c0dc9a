import CMortarGFAPI
import Glibc
import Mortar
import MortarCore
import NIOCore

/// How every exported function meets its C caller: blocking calls run through `Blocking.run` under the thread's
/// identity with thread cancellation held off, and every failure becomes the call's failure value plus `errno`.
enum CallBridge {
    /// Runs an async library call for a blocked C thread and returns its result, or `failure` with errno set.
    static func blocking<T: Sendable>(
        returning failure: T, _ body: @escaping @Sendable () async throws -> T
    ) -> T {
        withCancellationDeferred {
            do {
                let credentials = threadCredentials()
                return try Blocking.run {
                    try await Volume.$callerCredentials.withValue(credentials) { try await body() }
                }
            } catch {
                setErrorNumber(for: error)
                return failure
            }
        }
    }

    /// Runs a call that does no I/O, turning a thrown error into `failure` with errno set.
    static func immediate<T>(returning failure: T, _ body: () throws -> T) -> T {
        do {
            return try body()
        } catch {
            setErrorNumber(for: error)
            return failure
        }
    }

    static func setErrorNumber(for error: any Error) {
        mortar_set_errno(errorNumber(for: error))
    }

    /// The errno for an error: file-system errors carry theirs; a connection that failed underneath is ENOTCONN.
    static func errorNumber(for error: any Error) -> Int32 {
        switch error {
        case let error as FileSystemError: error.code.rawValue
        case let error as IOError: error.errnoCode
        case is ChannelError: ENOTCONN
        default: EIO
        }
    }

    /// tgt cancels its worker threads (`pthread_cancel`) while they may be inside the library. A thread cancelled
    /// while it waits for a reply would unwind through Swift frames that hold locks, so cancellation is held off for
    /// the duration of each call; a pending cancel takes effect at the caller's next cancellation point.
    private static func withCancellationDeferred<T>(_ body: () -> T) -> T {
        var previous: Int32 = 0
        pthread_setcancelstate(Int32(PTHREAD_CANCEL_DISABLE), &previous)
        defer { pthread_setcancelstate(previous, nil) }
        return body()
    }

    /// The identity of the calling thread: what `glfs_setfsuid`/`glfs_setfsgid`/`glfs_setfsgroups` set on it, else
    /// the process's effective identity (as GlusterFS's library does).
    static func threadCredentials() -> Volume.Credentials {
        let identity = mortar_thread_identity()!.pointee
        var credentials = Volume.Credentials(
            userID: identity.has_user != 0 ? identity.user : geteuid(),
            groupID: identity.has_group != 0 ? identity.group : getegid())
        if identity.has_groups != 0 {
            credentials.supplementaryGroupIDs = withUnsafeBytes(of: identity.groups) { raw in
                Array(raw.bindMemory(to: gid_t.self).prefix(Int(identity.group_count)))
            }
        }
        return credentials
    }
}

/// Memory owned by a C caller, carried into the task that reads or writes it. The caller keeps it valid until the
/// call returns (blocking calls) or its callback runs (async calls), which is what makes the crossing safe.
struct CallerMemory: @unchecked Sendable {
    let base: UnsafeMutableRawPointer?
    let count: Int

    var buffer: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: base, count: count) }
}

/// A C caller's opaque `void *`, passed back untouched.
struct CallerPointer: @unchecked Sendable {
    let value: UnsafeMutableRawPointer?
}

extension String {
    /// A path or name from C; NULL is EINVAL.
    init(cArgument pointer: UnsafePointer<CChar>?, _ what: String) throws {
        guard let pointer else { throw FileSystemError.invalidArgument("\(what) is NULL") }
        self.init(cString: pointer)
    }
}
