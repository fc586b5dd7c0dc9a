import CMortarLinux
import Glibc
import MortarCore

/// A replica member's state for clients on its host that read its files themselves (short-circuit local reads):
/// one 64-bit word at the start of a small file beside the brick's Unix socket (`<socket>.state`), which the
/// member writes through a shared mapping and each local client maps read-only.
///
/// The word is `epoch << 1 | 1` while the member is in sync in `epoch` and `epoch << 1` while it is not; 0 while
/// no brick publishes (before the first view, after it stopped). A client reads a granted file only while the
/// word equals what it expects for the epoch its request carries — checked before and after each read — which is
/// the condition under which the member itself would have served the read (a request of its own epoch, while in
/// sync). The file is reused across restarts of the brick (never unlinked), so a client's mapping follows the
/// brick that publishes now.
public enum MemberStateWord {
    /// Where the member whose Unix socket is `brickSocket` publishes.
    public static func path(besides brickSocket: String) -> String { brickSocket + ".state" }

    /// The word a client expects from a member serving reads in `epoch`.
    public static func serving(epoch: UInt64) -> UInt64 { epoch << 1 | 1 }

    static let byteCount = 4096
}

/// The member's side: the mapping it writes.
public final class MemberStatePublisher: @unchecked Sendable {  // the word is written only through C atomics
    public let path: String
    private let address: UnsafeMutableRawPointer

    /// Opens (creating it if missing) the state file at `path` with permissions `mode`, and publishes 0.
    public init(path: String, mode: UInt32) throws(FileSystemError) {
        let descriptor = cmortar_open_by_path(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, mode)
        guard descriptor >= 0 else { throw FileSystemError.fromErrno("open", path) }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0, status.st_mode & S_IFMT == S_IFREG, fchmod(descriptor, mode) == 0,
            ftruncate(descriptor, off_t(MemberStateWord.byteCount)) == 0
        else { throw FileSystemError.fromErrno("prepare", path) }
        guard let mapped = mmap(nil, MemberStateWord.byteCount, PROT_READ | PROT_WRITE, MAP_SHARED, descriptor, 0),
            mapped != MAP_FAILED
        else { throw FileSystemError.fromErrno("mmap", path) }
        self.path = path
        self.address = mapped
        cmortar_atomic_store_u64(address, 0)
    }

    deinit {
        withdraw()
        munmap(address, MemberStateWord.byteCount)
    }

    /// Publishes the member's standing in `epoch`.
    public func publish(epoch: UInt64, inSync: Bool) {
        cmortar_atomic_store_u64(address, epoch << 1 | (inSync ? 1 : 0))
    }

    /// Publishes that nobody serves (the brick stops).
    public func withdraw() { cmortar_atomic_store_u64(address, 0) }

    public var word: UInt64 { cmortar_atomic_load_u64(address) }
}

/// A local client's side: the member's word, mapped read-only.
public final class MemberStateReader: @unchecked Sendable {  // the word is read only through C atomics
    private let address: UnsafeMutableRawPointer

    public init(path: String) throws(FileSystemError) {
        let descriptor = cmortar_open_by_path(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW, 0)
        guard descriptor >= 0 else { throw FileSystemError.fromErrno("open", path) }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0, status.st_mode & S_IFMT == S_IFREG,
            status.st_size >= off_t(MemberStateWord.byteCount), status.st_uid == 0 || status.st_uid == geteuid()
        else { throw FileSystemError.protocolError("\(path) is not a member's state file") }
        guard let mapped = mmap(nil, MemberStateWord.byteCount, PROT_READ, MAP_SHARED, descriptor, 0),
            mapped != MAP_FAILED
        else { throw FileSystemError.fromErrno("mmap", path) }
        self.address = mapped
    }

    deinit { munmap(address, MemberStateWord.byteCount) }

    public var word: UInt64 { cmortar_atomic_load_u64(address) }
}
