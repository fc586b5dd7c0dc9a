import MortarCore
import NIOCore

/// What the lock layer passes on, and why. POSIX byte-range locks are advisory: they constrain only other lock
/// requests, never data or namespace operations, so everything but `lock`, `testLock` and `release` (in
/// `LockLayer.swift`) goes to the next layer as it is. A guard layer forwards nothing by default: a new operation
/// must be added here (or handled) deliberately.
extension LockLayer {
    public func lookup(_ name: String, in parent: FileID, context: OperationContext) async throws -> FileAttributes {
        try await next.lookup(name, in: parent, context: context)
    }

    public func attributes(of file: FileID, context: OperationContext) async throws -> FileAttributes {
        try await next.attributes(of: file, context: context)
    }

    public func attributes(ofOpen file: OpenFile, context: OperationContext) async throws -> FileAttributes {
        try await next.attributes(ofOpen: file, context: context)
    }

    public func setAttributes(_ changes: AttributeChanges, of file: FileID, context: OperationContext) async throws -> FileAttributes {
        try await next.setAttributes(changes, of: file, context: context)
    }

    public func checkAccess(_ mask: AccessMask, to file: FileID, context: OperationContext) async throws {
        try await next.checkAccess(mask, to: file, context: context)
    }

    public func create( _ name: String, in parent: FileID, id: FileID, permissions: UInt32, flags: OpenFlags, context: OperationContext ) async throws -> CreatedFile {
        try await next.create(name, in: parent, id: id, permissions: permissions, flags: flags, context: context)
    }

    public func open(_ file: FileID, flags: OpenFlags, context: OperationContext) async throws -> OpenFile {
        try await next.open(file, flags: flags, context: context)
    }

    public func openAndRead(_ file: FileID, flags: OpenFlags, count: Int, context: OperationContext) async throws
        -> OpenedFile
    {
        try await next.openAndRead(file, flags: flags, count: count, context: context)  // locks are advisory: reads pass
    }

    public func lookupAndRead(
        _ name: String, in parent: FileID, flags: OpenFlags, count: Int, context: OperationContext
    ) async throws -> FoundFile {
        try await next.lookupAndRead(name, in: parent, flags: flags, count: count, context: context)  // as above
    }

    public func read(from file: OpenFile, at offset: UInt64, count: Int, context: OperationContext) async throws -> ByteBuffer {
        try await next.read(from: file, at: offset, count: count, context: context)
    }

    public func grantLocalRead(of file: OpenFile, context: OperationContext) async throws -> LocalReadGrant {
        try await next.grantLocalRead(of: file, context: context)  // locks are advisory: reads pass
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

    public func unlink(_ name: String, in parent: FileID, context: OperationContext) async throws {
        try await next.unlink(name, in: parent, context: context)
    }

    public func makeDirectory( _ name: String, in parent: FileID, id: FileID, permissions: UInt32, context: OperationContext ) async throws -> FileAttributes {
        try await next.makeDirectory(name, in: parent, id: id, permissions: permissions, context: context)
    }

    public func removeDirectory(_ name: String, in parent: FileID, context: OperationContext) async throws {
        try await next.removeDirectory(name, in: parent, context: context)
    }

    public func readDirectory(_ directory: FileID, after cookie: UInt64, countMax: Int, context: OperationContext) async throws -> DirectoryPage {
        try await next.readDirectory(directory, after: cookie, countMax: countMax, context: context)
    }

    public func rename( _ name: String, in parent: FileID, to newName: String, in newParent: FileID, flags: RenameFlags, context: OperationContext ) async throws {
        try await next.rename(name, in: parent, to: newName, in: newParent, flags: flags, context: context)
    }

    public func link(_ file: FileID, as name: String, in parent: FileID, context: OperationContext) async throws -> FileAttributes {
        try await next.link(file, as: name, in: parent, context: context)
    }

    public func makeSymbolicLink( _ name: String, in parent: FileID, id: FileID, target: String, context: OperationContext ) async throws -> FileAttributes {
        try await next.makeSymbolicLink(name, in: parent, id: id, target: target, context: context)
    }

    public func readSymbolicLink(_ file: FileID, context: OperationContext) async throws -> String {
        try await next.readSymbolicLink(file, context: context)
    }

    public func makeNode( _ name: String, in parent: FileID, id: FileID, type: FileType, permissions: UInt32, device: UInt64, context: OperationContext ) async throws -> FileAttributes {
        try await next.makeNode(name, in: parent, id: id, type: type, permissions: permissions, device: device, context: context)
    }

    public func fileSystemStatistics(context: OperationContext) async throws -> FileSystemStatistics {
        try await next.fileSystemStatistics(context: context)
    }

    public func extendedAttribute(_ name: String, of file: FileID, context: OperationContext) async throws -> [UInt8] {
        try await next.extendedAttribute(name, of: file, context: context)
    }

    public func setExtendedAttribute( _ name: String, to value: [UInt8], mode: ExtendedAttributeMode, of file: FileID, context: OperationContext ) async throws {
        try await next.setExtendedAttribute(name, to: value, mode: mode, of: file, context: context)
    }

    public func extendedAttributeNames(of file: FileID, context: OperationContext) async throws -> [String] {
        try await next.extendedAttributeNames(of: file, context: context)
    }

    public func removeExtendedAttribute(_ name: String, of file: FileID, context: OperationContext) async throws {
        try await next.removeExtendedAttribute(name, of: file, context: context)
    }

    /// Control messages touch no byte range a lock covers (heal copies go through the member's sequencer, below).
    public func control(_ request: ControlRequest, context: OperationContext) async throws -> ControlReply {
        try await next.control(request, context: context)
    }
}
