import MortarCore
import NIOCore

/// The top of a client's stack: after every operation that can change what a file's bytes read as — or that
/// orders this process after other clients' changes (a lock) — it moves the volume's change generation, so no
/// read-ahead window fetched before the change is served after it (see ``ReadAheadWindow``). The generation moves
/// when the operation has finished, failed ones included: a window fetched while a change was under way may hold
/// either version, and must not outlive it.
///
/// A guard layer: every operation is decided here, so a new one does not compile until someone has said whether
/// it changes data.
final class ReadAheadCoherence: GuardLayer {
    let next: any FileOperations
    private let budget: ReadAheadBudget

    init(next: any FileOperations, budget: ReadAheadBudget) {
        self.next = next
        self.budget = budget
    }

    // MARK: Names and attributes

    func lookup(_ name: String, in parent: FileID, context: OperationContext) async throws -> FileAttributes {
        try await next.lookup(name, in: parent, context: context)  // reads only
    }

    func attributes(of file: FileID, context: OperationContext) async throws -> FileAttributes {
        try await next.attributes(of: file, context: context)  // reads only
    }

    func attributes(ofOpen file: OpenFile, context: OperationContext) async throws -> FileAttributes {
        try await next.attributes(ofOpen: file, context: context)  // reads only
    }

    func setAttributes(_ changes: AttributeChanges, of file: FileID, context: OperationContext) async throws
        -> FileAttributes
    {
        // A size change is a truncate; other attributes do not change the bytes, but telling them apart is not
        // worth a missed case.
        defer { budget.noteChange() }
        return try await next.setAttributes(changes, of: file, context: context)
    }

    func checkAccess(_ mask: AccessMask, to file: FileID, context: OperationContext) async throws {
        try await next.checkAccess(mask, to: file, context: context)  // reads only
    }

    // MARK: Files

    func create(
        _ name: String, in parent: FileID, id: FileID, permissions: UInt32, flags: OpenFlags,
        context: OperationContext
    ) async throws -> CreatedFile {
        // O_TRUNC of an existing file empties it.
        defer { if flags.contains(.truncate) { budget.noteChange() } }
        return try await next.create(name, in: parent, id: id, permissions: permissions, flags: flags, context: context)
    }

    func open(_ file: FileID, flags: OpenFlags, context: OperationContext) async throws -> OpenFile {
        defer { if flags.contains(.truncate) { budget.noteChange() } }
        return try await next.open(file, flags: flags, context: context)
    }

    func openAndRead(_ file: FileID, flags: OpenFlags, count: Int, context: OperationContext) async throws
        -> OpenedFile
    {
        try await next.openAndRead(file, flags: flags, count: count, context: context)  // reads only
    }

    func lookupAndRead(
        _ name: String, in parent: FileID, flags: OpenFlags, count: Int, context: OperationContext
    ) async throws -> FoundFile {
        try await next.lookupAndRead(name, in: parent, flags: flags, count: count, context: context)  // reads only
    }

    func release(_ file: OpenFile, context: OperationContext) async throws {
        try await next.release(file, context: context)  // changes no bytes
    }

    func read(from file: OpenFile, at offset: UInt64, count: Int, context: OperationContext) async throws
        -> ByteBuffer
    {
        try await next.read(from: file, at: offset, count: count, context: context)  // reads only
    }

    func grantLocalRead(of file: OpenFile, context: OperationContext) async throws -> LocalReadGrant {
        try await next.grantLocalRead(of: file, context: context)  // changes nothing
    }

    func write(_ data: ByteBuffer, to file: OpenFile, at offset: UInt64, context: OperationContext) async throws
        -> Int
    {
        defer { budget.noteChange() }
        return try await next.write(data, to: file, at: offset, context: context)
    }

    func truncate(_ file: OpenFile, to size: UInt64, context: OperationContext) async throws {
        defer { budget.noteChange() }
        try await next.truncate(file, to: size, context: context)
    }

    func synchronize(_ file: OpenFile, dataOnly: Bool, context: OperationContext) async throws {
        try await next.synchronize(file, dataOnly: dataOnly, context: context)  // makes durable, changes nothing
    }

    func flush(_ file: OpenFile, context: OperationContext) async throws {
        try await next.flush(file, context: context)  // changes nothing
    }

    func allocate(
        _ file: OpenFile, at offset: UInt64, length: UInt64, keepSize: Bool, context: OperationContext
    ) async throws {
        defer { budget.noteChange() }  // may extend the file
        try await next.allocate(file, at: offset, length: length, keepSize: keepSize, context: context)
    }

    func discard(_ file: OpenFile, at offset: UInt64, length: UInt64, context: OperationContext) async throws {
        defer { budget.noteChange() }
        try await next.discard(file, at: offset, length: length, context: context)
    }

    func zeroFill(_ file: OpenFile, at offset: UInt64, length: UInt64, context: OperationContext) async throws {
        defer { budget.noteChange() }
        try await next.zeroFill(file, at: offset, length: length, context: context)
    }

    func seek(_ file: OpenFile, from offset: UInt64, to target: SeekTarget, context: OperationContext) async throws
        -> UInt64
    {
        try await next.seek(file, from: offset, to: target, context: context)  // reads only
    }

    func lock(_ file: OpenFile, _ request: LockRequest, wait: Bool, context: OperationContext) async throws {
        // Taking a lock orders this process after the writes of whoever held it: what they wrote must be read
        // fresh from here on.
        defer { budget.noteChange() }
        try await next.lock(file, request, wait: wait, context: context)
    }

    func testLock(_ file: OpenFile, _ request: LockRequest, context: OperationContext) async throws -> LockRequest? {
        try await next.testLock(file, request, context: context)  // reads only
    }

    // MARK: Namespace — names change, an open file's bytes do not

    func unlink(_ name: String, in parent: FileID, context: OperationContext) async throws {
        try await next.unlink(name, in: parent, context: context)
    }

    func makeDirectory(
        _ name: String, in parent: FileID, id: FileID, permissions: UInt32, context: OperationContext
    ) async throws -> FileAttributes {
        try await next.makeDirectory(name, in: parent, id: id, permissions: permissions, context: context)
    }

    func removeDirectory(_ name: String, in parent: FileID, context: OperationContext) async throws {
        try await next.removeDirectory(name, in: parent, context: context)
    }

    func readDirectory(_ directory: FileID, after cookie: UInt64, countMax: Int, context: OperationContext)
        async throws -> DirectoryPage
    {
        try await next.readDirectory(directory, after: cookie, countMax: countMax, context: context)
    }

    func rename(
        _ name: String, in parent: FileID, to newName: String, in newParent: FileID, flags: RenameFlags,
        context: OperationContext
    ) async throws {
        try await next.rename(name, in: parent, to: newName, in: newParent, flags: flags, context: context)
    }

    func link(_ file: FileID, as name: String, in parent: FileID, context: OperationContext) async throws
        -> FileAttributes
    {
        try await next.link(file, as: name, in: parent, context: context)
    }

    func makeSymbolicLink(
        _ name: String, in parent: FileID, id: FileID, target: String, context: OperationContext
    ) async throws -> FileAttributes {
        try await next.makeSymbolicLink(name, in: parent, id: id, target: target, context: context)
    }

    func readSymbolicLink(_ file: FileID, context: OperationContext) async throws -> String {
        try await next.readSymbolicLink(file, context: context)
    }

    func makeNode(
        _ name: String, in parent: FileID, id: FileID, type: FileType, permissions: UInt32, device: UInt64,
        context: OperationContext
    ) async throws -> FileAttributes {
        try await next.makeNode(
            name, in: parent, id: id, type: type, permissions: permissions, device: device, context: context)
    }

    func fileSystemStatistics(context: OperationContext) async throws -> FileSystemStatistics {
        try await next.fileSystemStatistics(context: context)
    }

    // MARK: Extended attributes — metadata, not the bytes read-ahead holds

    func extendedAttribute(_ name: String, of file: FileID, context: OperationContext) async throws -> [UInt8] {
        try await next.extendedAttribute(name, of: file, context: context)
    }

    func setExtendedAttribute(
        _ name: String, to value: [UInt8], mode: ExtendedAttributeMode, of file: FileID, context: OperationContext
    ) async throws {
        try await next.setExtendedAttribute(name, to: value, mode: mode, of: file, context: context)
    }

    func extendedAttributeNames(of file: FileID, context: OperationContext) async throws -> [String] {
        try await next.extendedAttributeNames(of: file, context: context)
    }

    func removeExtendedAttribute(_ name: String, of file: FileID, context: OperationContext) async throws {
        try await next.removeExtendedAttribute(name, of: file, context: context)
    }

    // MARK: Control

    func control(_ request: ControlRequest, context: OperationContext) async throws -> ControlReply {
        // Replication's messages (a heal among them) may rewrite a file: assume they do.
        defer { budget.noteChange() }
        return try await next.control(request, context: context)
    }
}
