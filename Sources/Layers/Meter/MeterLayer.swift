import MortarCore
import NIOCore

/// The client's meter: the top of a volume's stack when the application wants metrics (``ClientMetrics``). Every
/// operation the application's calls turn into — after the library's own caches: a read served by read-ahead or
/// a write held by write-behind reaches this layer as the request that fetched or flushed it — is counted by
/// operation, timed, its errors counted by errno, its bytes added up.
///
/// A guard layer: it implements every operation itself, so a new operation of ``FileOperations`` does not compile
/// until it is metered here too.
public struct MeterLayer: GuardLayer {
    public let next: any FileOperations
    let metrics: ClientMetrics

    public init(next: any FileOperations, metrics: ClientMetrics) {
        self.next = next
        self.metrics = metrics
    }

    private func meter<Result>(_ operation: MeteredOperation, _ body: () async throws -> Result) async throws -> Result {
        let started = metrics.began()
        do {
            let result = try await body()
            metrics.finished(operation, started: started, error: nil)
            return result
        } catch {
            metrics.finished(operation, started: started, error: error)
            throw error
        }
    }

    public func lookup(_ name: String, in parent: FileID, context: OperationContext) async throws -> FileAttributes {
        try await meter(.lookup) { try await next.lookup(name, in: parent, context: context) }
    }

    public func attributes(of file: FileID, context: OperationContext) async throws -> FileAttributes {
        try await meter(.attributes) { try await next.attributes(of: file, context: context) }
    }

    public func attributes(ofOpen file: OpenFile, context: OperationContext) async throws -> FileAttributes {
        try await meter(.attributesOfOpen) { try await next.attributes(ofOpen: file, context: context) }
    }

    public func setAttributes(_ changes: AttributeChanges, of file: FileID, context: OperationContext) async throws -> FileAttributes {
        try await meter(.setAttributes) { try await next.setAttributes(changes, of: file, context: context) }
    }

    public func checkAccess(_ mask: AccessMask, to file: FileID, context: OperationContext) async throws {
        try await meter(.checkAccess) { try await next.checkAccess(mask, to: file, context: context) }
    }

    public func create( _ name: String, in parent: FileID, id: FileID, permissions: UInt32, flags: OpenFlags, context: OperationContext ) async throws -> CreatedFile {
        try await meter(.create) {
            try await next.create(name, in: parent, id: id, permissions: permissions, flags: flags, context: context)
        }
    }

    public func open(_ file: FileID, flags: OpenFlags, context: OperationContext) async throws -> OpenFile {
        try await meter(.open) { try await next.open(file, flags: flags, context: context) }
    }

    public func openAndRead(_ file: FileID, flags: OpenFlags, count: Int, context: OperationContext) async throws
        -> OpenedFile
    {
        let opened = try await meter(.openAndRead) { try await next.openAndRead(file, flags: flags, count: count, context: context) }
        metrics.read(opened.head.readableBytes)
        return opened
    }

    public func lookupAndRead(
        _ name: String, in parent: FileID, flags: OpenFlags, count: Int, context: OperationContext
    ) async throws -> FoundFile {
        let found = try await meter(.lookupAndRead) {
            try await next.lookupAndRead(name, in: parent, flags: flags, count: count, context: context)
        }
        metrics.read(found.opened?.head.readableBytes ?? 0)
        return found
    }

    public func release(_ file: OpenFile, context: OperationContext) async throws {
        try await meter(.release) { try await next.release(file, context: context) }
    }

    public func read(from file: OpenFile, at offset: UInt64, count: Int, context: OperationContext) async throws -> ByteBuffer {
        let data = try await meter(.read) { try await next.read(from: file, at: offset, count: count, context: context) }
        metrics.read(data.readableBytes)
        return data
    }

    public func grantLocalRead(of file: OpenFile, context: OperationContext) async throws -> LocalReadGrant {
        try await meter(.grantLocalRead) { try await next.grantLocalRead(of: file, context: context) }
    }

    public func write(_ data: ByteBuffer, to file: OpenFile, at offset: UInt64, context: OperationContext) async throws -> Int {
        let written = try await meter(.write) { try await next.write(data, to: file, at: offset, context: context) }
        metrics.wrote(written)
        return written
    }

    public func truncate(_ file: OpenFile, to size: UInt64, context: OperationContext) async throws {
        try await meter(.truncate) { try await next.truncate(file, to: size, context: context) }
    }

    public func synchronize(_ file: OpenFile, dataOnly: Bool, context: OperationContext) async throws {
        try await meter(.synchronize) { try await next.synchronize(file, dataOnly: dataOnly, context: context) }
    }

    public func flush(_ file: OpenFile, context: OperationContext) async throws {
        try await meter(.flush) { try await next.flush(file, context: context) }
    }

    public func allocate( _ file: OpenFile, at offset: UInt64, length: UInt64, keepSize: Bool, context: OperationContext ) async throws {
        try await meter(.allocate) {
            try await next.allocate(file, at: offset, length: length, keepSize: keepSize, context: context)
        }
    }

    public func discard(_ file: OpenFile, at offset: UInt64, length: UInt64, context: OperationContext) async throws {
        try await meter(.discard) { try await next.discard(file, at: offset, length: length, context: context) }
    }

    public func zeroFill(_ file: OpenFile, at offset: UInt64, length: UInt64, context: OperationContext) async throws {
        try await meter(.zeroFill) { try await next.zeroFill(file, at: offset, length: length, context: context) }
    }

    public func seek(_ file: OpenFile, from offset: UInt64, to target: SeekTarget, context: OperationContext) async throws -> UInt64 {
        try await meter(.seek) { try await next.seek(file, from: offset, to: target, context: context) }
    }

    public func lock(_ file: OpenFile, _ request: LockRequest, wait: Bool, context: OperationContext) async throws {
        try await meter(.lock) { try await next.lock(file, request, wait: wait, context: context) }
    }

    public func testLock(_ file: OpenFile, _ request: LockRequest, context: OperationContext) async throws -> LockRequest? {
        try await meter(.testLock) { try await next.testLock(file, request, context: context) }
    }

    public func unlink(_ name: String, in parent: FileID, context: OperationContext) async throws {
        try await meter(.unlink) { try await next.unlink(name, in: parent, context: context) }
    }

    public func makeDirectory( _ name: String, in parent: FileID, id: FileID, permissions: UInt32, context: OperationContext ) async throws -> FileAttributes {
        try await meter(.makeDirectory) {
            try await next.makeDirectory(name, in: parent, id: id, permissions: permissions, context: context)
        }
    }

    public func removeDirectory(_ name: String, in parent: FileID, context: OperationContext) async throws {
        try await meter(.removeDirectory) { try await next.removeDirectory(name, in: parent, context: context) }
    }

    public func readDirectory(_ directory: FileID, after cookie: UInt64, countMax: Int, context: OperationContext) async throws -> DirectoryPage {
        try await meter(.readDirectory) {
            try await next.readDirectory(directory, after: cookie, countMax: countMax, context: context)
        }
    }

    public func rename( _ name: String, in parent: FileID, to newName: String, in newParent: FileID, flags: RenameFlags, context: OperationContext ) async throws {
        try await meter(.rename) {
            try await next.rename(name, in: parent, to: newName, in: newParent, flags: flags, context: context)
        }
    }

    public func link(_ file: FileID, as name: String, in parent: FileID, context: OperationContext) async throws -> FileAttributes {
        try await meter(.link) { try await next.link(file, as: name, in: parent, context: context) }
    }

    public func makeSymbolicLink( _ name: String, in parent: FileID, id: FileID, target: String, context: OperationContext ) async throws -> FileAttributes {
        try await meter(.makeSymbolicLink) {
            try await next.makeSymbolicLink(name, in: parent, id: id, target: target, context: context)
        }
    }

    public func readSymbolicLink(_ file: FileID, context: OperationContext) async throws -> String {
        try await meter(.readSymbolicLink) { try await next.readSymbolicLink(file, context: context) }
    }

    public func makeNode( _ name: String, in parent: FileID, id: FileID, type: FileType, permissions: UInt32, device: UInt64, context: OperationContext ) async throws -> FileAttributes {
        try await meter(.makeNode) {
            try await next.makeNode(name, in: parent, id: id, type: type, permissions: permissions, device: device, context: context)
        }
    }

    public func fileSystemStatistics(context: OperationContext) async throws -> FileSystemStatistics {
        try await meter(.fileSystemStatistics) { try await next.fileSystemStatistics(context: context) }
    }

    public func extendedAttribute(_ name: String, of file: FileID, context: OperationContext) async throws -> [UInt8] {
        try await meter(.extendedAttribute) { try await next.extendedAttribute(name, of: file, context: context) }
    }

    public func setExtendedAttribute( _ name: String, to value: [UInt8], mode: ExtendedAttributeMode, of file: FileID, context: OperationContext ) async throws {
        try await meter(.setExtendedAttribute) {
            try await next.setExtendedAttribute(name, to: value, mode: mode, of: file, context: context)
        }
    }

    public func extendedAttributeNames(of file: FileID, context: OperationContext) async throws -> [String] {
        try await meter(.extendedAttributeNames) { try await next.extendedAttributeNames(of: file, context: context) }
    }

    public func removeExtendedAttribute(_ name: String, of file: FileID, context: OperationContext) async throws {
        try await meter(.removeExtendedAttribute) {
            try await next.removeExtendedAttribute(name, of: file, context: context)
        }
    }

    public func control(_ request: ControlRequest, context: OperationContext) async throws -> ControlReply {
        try await meter(.control) { try await next.control(request, context: context) }
    }
}
