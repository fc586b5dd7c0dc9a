import MortarCore
import NIOCore

/// What the permission layer lets through unchecked, and why. Every operation is here or checked in
/// `PermissionLayer.swift`: a guard layer forwards nothing by default.
extension PermissionLayer {
    // Reading attributes or a link by FileID needs no permission on the object itself (stat(2) and readlink(2) need
    // only search permission on the path, which the lookup that produced the FileID checked).

    public func attributes(of file: FileID, context: OperationContext) async throws -> FileAttributes {
        try await next.attributes(of: file, context: context)
    }

    public func attributes(ofOpen file: OpenFile, context: OperationContext) async throws -> FileAttributes {
        try await next.attributes(ofOpen: file, context: context)
    }

    public func readSymbolicLink(_ file: FileID, context: OperationContext) async throws -> String {
        try await next.readSymbolicLink(file, context: context)
    }

    // The storage answers access(2) for the caller's identity itself.

    public func checkAccess(_ mask: AccessMask, to file: FileID, context: OperationContext) async throws {
        try await next.checkAccess(mask, to: file, context: context)
    }

    // Operations on an open file were authorised when it was opened: the brick's descriptor carries the access mode
    // the open was checked for (a read-only open cannot write), as a POSIX descriptor does.

    public func read(from file: OpenFile, at offset: UInt64, count: Int, context: OperationContext) async throws -> ByteBuffer {
        try await next.read(from: file, at: offset, count: count, context: context)
    }

    /// A read by other means: the storage grants only a handle opened for reading, which the open was checked for.
    public func grantLocalRead(of file: OpenFile, context: OperationContext) async throws -> LocalReadGrant {
        try await next.grantLocalRead(of: file, context: context)
    }

    public func write(_ data: ByteBuffer, to file: OpenFile, at offset: UInt64, context: OperationContext) async throws -> Int {
        try await next.write(data, to: file, at: offset, context: context)
    }

    public func truncate(_ file: OpenFile, to size: UInt64, context: OperationContext) async throws {
        try await next.truncate(file, to: size, context: context)
    }

    public func synchronize(_ file: OpenFile, dataOnly: Bool, context: OperationContext) async throws {
        try await next.synchronize(file, dataOnly: dataOnly, context: context)
    }

    public func flush(_ file: OpenFile, context: OperationContext) async throws {
        try await next.flush(file, context: context)
    }

    public func allocate( _ file: OpenFile, at offset: UInt64, length: UInt64, keepSize: Bool, context: OperationContext ) async throws {
        try await next.allocate(file, at: offset, length: length, keepSize: keepSize, context: context)
    }

    public func discard(_ file: OpenFile, at offset: UInt64, length: UInt64, context: OperationContext) async throws {
        try await next.discard(file, at: offset, length: length, context: context)
    }

    public func zeroFill(_ file: OpenFile, at offset: UInt64, length: UInt64, context: OperationContext) async throws {
        try await next.zeroFill(file, at: offset, length: length, context: context)
    }

    public func seek(_ file: OpenFile, from offset: UInt64, to target: SeekTarget, context: OperationContext) async throws -> UInt64 {
        try await next.seek(file, from: offset, to: target, context: context)
    }

    public func release(_ file: OpenFile, context: OperationContext) async throws {
        try await next.release(file, context: context)
    }

    // Byte-range locks need only an open file, as fcntl(2) locks do.

    public func lock(_ file: OpenFile, _ request: LockRequest, wait: Bool, context: OperationContext) async throws {
        try await next.lock(file, request, wait: wait, context: context)
    }

    public func testLock(_ file: OpenFile, _ request: LockRequest, context: OperationContext) async throws -> LockRequest? {
        try await next.testLock(file, request, context: context)
    }

    // statfs(2) needs no permission.

    public func fileSystemStatistics(context: OperationContext) async throws -> FileSystemStatistics {
        try await next.fileSystemStatistics(context: context)
    }
}
