import MortarCore
import NIOCore
import Synchronization

/// A pass-through ``Layer`` for layer tests (NIO's EmbeddedChannel idea): it records every operation that reaches
/// it and can be told to fail the next calls of an operation with a chosen error.
///
/// Put it between a layer under test and its child to see what the layer sends down, or to inject a fault in one
/// child of a cluster layer.
public final class LayerHarness: Layer {
    /// The operations of ``FileOperations``, one case each.
    public enum Operation: String, Sendable, Hashable, CaseIterable {
        case lookup
        case attributes
        case attributesOfOpen
        case setAttributes
        case checkAccess
        case create
        case open
        case release
        case read
        case write
        case truncate
        case synchronize
        case flush
        case allocate
        case discard
        case zeroFill
        case seek
        case lock
        case testLock
        case unlink
        case makeDirectory
        case removeDirectory
        case readDirectory
        case rename
        case link
        case makeSymbolicLink
        case readSymbolicLink
        case makeNode
        case fileSystemStatistics
        case extendedAttribute
        case setExtendedAttribute
        case extendedAttributeNames
        case removeExtendedAttribute
        case control
        case openAndRead
        case grantLocalRead
        case lookupAndRead
    }

    /// A fault to inject: the next `remaining` calls of `operation` (about `subject`, when one is given) fail.
    private struct Failure {
        var operation: Operation
        var subject: String?
        var remaining: Int
        var error: FileSystemError
    }

    private struct State {
        var recorded: [Operation] = []
        /// Oldest first: a call takes the first failure that matches it.
        var failures: [Failure] = []
        /// Operations whose next call waits until its gate opens.
        var stalls: [Operation: Gate] = [:]
    }

    public let next: any FileOperations
    private let state = Mutex(State())

    public init(next: any FileOperations) {
        self.next = next
    }

    /// Every operation that reached this layer, oldest first.
    public var recorded: [Operation] { state.withLock { $0.recorded } }

    /// How many calls of `operation` reached this layer.
    public func count(of operation: Operation) -> Int {
        state.withLock { $0.recorded.filter { $0 == operation }.count }
    }

    public func clearRecorded() {
        state.withLock { $0.recorded.removeAll() }
    }

    /// Makes the next `count` calls of `operation` throw `error` instead of reaching ``next``.
    public func failNext(_ operation: Operation, count: Int = 1, with error: FileSystemError) {
        state.withLock { state in
            state.failures.removeAll { $0.operation == operation && $0.subject == nil }
            state.failures.append(Failure(operation: operation, subject: nil, remaining: count, error: error))
        }
    }

    /// Makes the next `count` calls of `operation` about `subject` throw `error`; other calls pass. The subject is
    /// the name for ``lookup(_:in:context:)`` and the extended-attribute calls, the FileID's description for
    /// ``attributes(of:context:)`` and ``readDirectory(_:after:countMax:context:)``. Faults for one subject queue up,
    /// oldest first.
    public func failNext(
        _ operation: Operation, about subject: String, count: Int = 1, with error: FileSystemError
    ) {
        state.withLock { $0.failures.append(Failure(operation: operation, subject: subject, remaining: count, error: error)) }
    }

    /// Makes the next call of `operation` wait, before it reaches ``next``, until `gate` opens: a disk that hangs.
    public func stallNext(_ operation: Operation, until gate: Gate) {
        state.withLock { $0.stalls[operation] = gate }
    }

    private func intercept(_ operation: Operation, about subject: String? = nil) async throws {
        if let gate = state.withLock({ $0.stalls.removeValue(forKey: operation) }) { await gate.wait() }
        let injected: FileSystemError? = state.withLock { state in
            state.recorded.append(operation)
            guard let index = state.failures.firstIndex(where: {
                $0.operation == operation && ($0.subject == nil || $0.subject == subject)
            }) else { return nil }
            let error = state.failures[index].error
            state.failures[index].remaining -= 1
            if state.failures[index].remaining <= 0 { state.failures.remove(at: index) }
            return error
        }
        if let injected { throw injected }
    }

    public func lookup(_ name: String, in parent: FileID, context: OperationContext) async throws -> FileAttributes {
        try await intercept(.lookup, about: name)
        return try await next.lookup(name, in: parent, context: context)
    }

    public func attributes(of file: FileID, context: OperationContext) async throws -> FileAttributes {
        try await intercept(.attributes, about: file.description)
        return try await next.attributes(of: file, context: context)
    }

    public func attributes(ofOpen file: OpenFile, context: OperationContext) async throws -> FileAttributes {
        try await intercept(.attributesOfOpen)
        return try await next.attributes(ofOpen: file, context: context)
    }

    public func setAttributes(_ changes: AttributeChanges, of file: FileID, context: OperationContext) async throws
        -> FileAttributes
    {
        try await intercept(.setAttributes)
        return try await next.setAttributes(changes, of: file, context: context)
    }

    public func checkAccess(_ mask: AccessMask, to file: FileID, context: OperationContext) async throws {
        try await intercept(.checkAccess)
        return try await next.checkAccess(mask, to: file, context: context)
    }

    public func create(
        _ name: String, in parent: FileID, id: FileID, permissions: UInt32, flags: OpenFlags, context: OperationContext
    ) async throws -> CreatedFile {
        try await intercept(.create)
        return try await next.create(name, in: parent, id: id, permissions: permissions, flags: flags, context: context)
    }

    public func open(_ file: FileID, flags: OpenFlags, context: OperationContext) async throws -> OpenFile {
        try await intercept(.open)
        return try await next.open(file, flags: flags, context: context)
    }

    public func openAndRead(_ file: FileID, flags: OpenFlags, count: Int, context: OperationContext) async throws
        -> OpenedFile
    {
        try await intercept(.openAndRead)
        return try await next.openAndRead(file, flags: flags, count: count, context: context)
    }

    public func lookupAndRead(
        _ name: String, in parent: FileID, flags: OpenFlags, count: Int, context: OperationContext
    ) async throws -> FoundFile {
        try await intercept(.lookupAndRead, about: name)
        return try await next.lookupAndRead(name, in: parent, flags: flags, count: count, context: context)
    }

    public func release(_ file: OpenFile, context: OperationContext) async throws {
        try await intercept(.release)
        return try await next.release(file, context: context)
    }

    public func grantLocalRead(of file: OpenFile, context: OperationContext) async throws -> LocalReadGrant {
        try await intercept(.grantLocalRead)
        return try await next.grantLocalRead(of: file, context: context)
    }

    public func read(from file: OpenFile, at offset: UInt64, count: Int, context: OperationContext) async throws
        -> ByteBuffer
    {
        try await intercept(.read)
        return try await next.read(from: file, at: offset, count: count, context: context)
    }

    public func write(_ data: ByteBuffer, to file: OpenFile, at offset: UInt64, context: OperationContext) async throws
        -> Int
    {
        try await intercept(.write)
        return try await next.write(data, to: file, at: offset, context: context)
    }

    public func truncate(_ file: OpenFile, to size: UInt64, context: OperationContext) async throws {
        try await intercept(.truncate)
        return try await next.truncate(file, to: size, context: context)
    }

    public func synchronize(_ file: OpenFile, dataOnly: Bool, context: OperationContext) async throws {
        try await intercept(.synchronize)
        return try await next.synchronize(file, dataOnly: dataOnly, context: context)
    }

    public func flush(_ file: OpenFile, context: OperationContext) async throws {
        try await intercept(.flush)
        return try await next.flush(file, context: context)
    }

    public func allocate(_ file: OpenFile, at offset: UInt64, length: UInt64, keepSize: Bool, context: OperationContext)
        async throws
    {
        try await intercept(.allocate)
        return try await next.allocate(file, at: offset, length: length, keepSize: keepSize, context: context)
    }

    public func discard(_ file: OpenFile, at offset: UInt64, length: UInt64, context: OperationContext) async throws {
        try await intercept(.discard)
        return try await next.discard(file, at: offset, length: length, context: context)
    }

    public func zeroFill(_ file: OpenFile, at offset: UInt64, length: UInt64, context: OperationContext) async throws {
        try await intercept(.zeroFill)
        return try await next.zeroFill(file, at: offset, length: length, context: context)
    }

    public func seek(_ file: OpenFile, from offset: UInt64, to target: SeekTarget, context: OperationContext)
        async throws -> UInt64
    {
        try await intercept(.seek)
        return try await next.seek(file, from: offset, to: target, context: context)
    }

    public func lock(_ file: OpenFile, _ request: LockRequest, wait: Bool, context: OperationContext) async throws {
        try await intercept(.lock)
        return try await next.lock(file, request, wait: wait, context: context)
    }

    public func testLock(_ file: OpenFile, _ request: LockRequest, context: OperationContext) async throws
        -> LockRequest?
    {
        try await intercept(.testLock)
        return try await next.testLock(file, request, context: context)
    }

    public func unlink(_ name: String, in parent: FileID, context: OperationContext) async throws {
        try await intercept(.unlink)
        return try await next.unlink(name, in: parent, context: context)
    }

    public func makeDirectory(
        _ name: String, in parent: FileID, id: FileID, permissions: UInt32, context: OperationContext
    ) async throws -> FileAttributes {
        try await intercept(.makeDirectory)
        return try await next.makeDirectory(name, in: parent, id: id, permissions: permissions, context: context)
    }

    public func removeDirectory(_ name: String, in parent: FileID, context: OperationContext) async throws {
        try await intercept(.removeDirectory)
        return try await next.removeDirectory(name, in: parent, context: context)
    }

    public func readDirectory(_ directory: FileID, after cookie: UInt64, countMax: Int, context: OperationContext)
        async throws -> DirectoryPage
    {
        try await intercept(.readDirectory, about: directory.description)
        return try await next.readDirectory(directory, after: cookie, countMax: countMax, context: context)
    }

    public func rename(
        _ name: String, in parent: FileID, to newName: String, in newParent: FileID, flags: RenameFlags,
        context: OperationContext
    ) async throws {
        try await intercept(.rename)
        return try await next.rename(name, in: parent, to: newName, in: newParent, flags: flags, context: context)
    }

    public func link(_ file: FileID, as name: String, in parent: FileID, context: OperationContext) async throws
        -> FileAttributes
    {
        try await intercept(.link)
        return try await next.link(file, as: name, in: parent, context: context)
    }

    public func makeSymbolicLink(
        _ name: String, in parent: FileID, id: FileID, target: String, context: OperationContext
    ) async throws -> FileAttributes {
        try await intercept(.makeSymbolicLink)
        return try await next.makeSymbolicLink(name, in: parent, id: id, target: target, context: context)
    }

    public func readSymbolicLink(_ file: FileID, context: OperationContext) async throws -> String {
        try await intercept(.readSymbolicLink)
        return try await next.readSymbolicLink(file, context: context)
    }

    public func makeNode(
        _ name: String, in parent: FileID, id: FileID, type: FileType, permissions: UInt32, device: UInt64, context: OperationContext
    ) async throws -> FileAttributes {
        try await intercept(.makeNode)
        return try await next.makeNode(name, in: parent, id: id, type: type, permissions: permissions, device: device, context: context)
    }

    public func fileSystemStatistics(context: OperationContext) async throws -> FileSystemStatistics {
        try await intercept(.fileSystemStatistics)
        return try await next.fileSystemStatistics(context: context)
    }

    public func extendedAttribute(_ name: String, of file: FileID, context: OperationContext) async throws -> [UInt8] {
        try await intercept(.extendedAttribute, about: name)
        return try await next.extendedAttribute(name, of: file, context: context)
    }

    public func setExtendedAttribute(
        _ name: String, to value: [UInt8], mode: ExtendedAttributeMode, of file: FileID, context: OperationContext
    ) async throws {
        try await intercept(.setExtendedAttribute)
        return try await next.setExtendedAttribute(name, to: value, mode: mode, of: file, context: context)
    }

    public func extendedAttributeNames(of file: FileID, context: OperationContext) async throws -> [String] {
        try await intercept(.extendedAttributeNames)
        return try await next.extendedAttributeNames(of: file, context: context)
    }

    public func removeExtendedAttribute(_ name: String, of file: FileID, context: OperationContext) async throws {
        try await intercept(.removeExtendedAttribute)
        return try await next.removeExtendedAttribute(name, of: file, context: context)
    }

    /// Faults can name the message (``ControlRequest/name``), e.g. `about: "heal note"`.
    public func control(_ request: ControlRequest, context: OperationContext) async throws -> ControlReply {
        try await intercept(.control, about: request.name)
        return try await next.control(request, context: context)
    }
}
