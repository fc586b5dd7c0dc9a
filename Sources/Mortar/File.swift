import MortarCore
import NIOCore
import Synchronization

/// An open file (`glfs_fd_t`). Positioned calls (`read(count:at:)`) are safe from many tasks at once; the
/// unpositioned ones share the file's position under a lock, as a POSIX file description does.
public final class File: Sendable {
    public let volume: Volume
    public let openFile: OpenFile
    public let flags: OpenFlags
    public let path: String
    let position = Mutex<UInt64>(0)
    let closed = Mutex<Bool>(false)
    /// Nil when the volume does not read ahead, or the file is not open for reading or is open with O_DIRECT.
    let readAhead: FileReadAhead?

    init(volume: Volume, file: OpenFile, flags: OpenFlags, path: String) {
        self.volume = volume
        self.openFile = file
        self.flags = flags
        self.path = path
        readAhead = volume.readsAhead && flags.contains(.read) && !flags.contains(.direct)
            ? FileReadAhead(budget: volume.readAheadBudget) : nil
    }

    public var id: FileID { openFile.id }

    func context() throws -> OperationContext {
        guard !closed.withLock({ $0 }) else { throw FileSystemError(.badFileHandle, "'\(path)' is closed") }
        return try volume.context()
    }

    /// Releases the file on the brick. Further calls fail with EBADF. Closing twice is an error.
    public func close() async throws {
        let wasOpen = closed.withLock { closed -> Bool in
            defer { closed = true }
            return !closed
        }
        guard wasOpen else { throw FileSystemError(.badFileHandle, "'\(path)' was already closed") }
        readAhead?.drop()
        try await volume.stack.release(openFile, context: volume.context())
    }

    public func attributes() async throws -> FileAttributes {
        try await volume.stack.attributes(ofOpen: openFile, context: context())
    }

    public func truncate(to size: UInt64) async throws {
        try await volume.stack.truncate(openFile, to: size, context: context())
    }

    public func synchronize(dataOnly: Bool = false) async throws {
        try await volume.stack.synchronize(openFile, dataOnly: dataOnly, context: context())
    }

    public func flush() async throws {
        try await volume.stack.flush(openFile, context: context())
    }

    public func allocate(at offset: UInt64, length: UInt64, keepSize: Bool = false) async throws {
        try await volume.stack.allocate(openFile, at: offset, length: length, keepSize: keepSize, context: context())
    }

    /// Punches a hole: the range reads as zeros and frees its space.
    public func discard(at offset: UInt64, length: UInt64) async throws {
        try await volume.stack.discard(openFile, at: offset, length: length, context: context())
    }

    public func zeroFill(at offset: UInt64, length: UInt64) async throws {
        try await volume.stack.zeroFill(openFile, at: offset, length: length, context: context())
    }

    /// Sets a byte-range lock; with `wait`, waits until it can be granted (F_SETLKW).
    public func lock(_ request: LockRequest, wait: Bool = false) async throws {
        try await volume.stack.lock(openFile, request, wait: wait, context: context())
    }

    /// The lock that would block `request`, or nil (F_GETLK).
    public func testLock(_ request: LockRequest) async throws -> LockRequest? {
        try await volume.stack.testLock(openFile, request, context: context())
    }
}
