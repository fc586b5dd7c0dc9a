import MortarCore
import MortarWire

extension ProtocolClient {
    public func unlink(_ name: String, in parent: FileID, context: OperationContext) async throws {
        try await perform(.unlink(name: name, parent: parent), context: context).none()
    }

    public func makeDirectory(
        _ name: String, in parent: FileID, id: FileID, permissions: UInt32, context: OperationContext
    ) async throws -> FileAttributes {
        try await perform(
            .makeDirectory(name: name, parent: parent, id: id, permissions: permissions), context: context
        ).attributes()
    }

    public func removeDirectory(_ name: String, in parent: FileID, context: OperationContext) async throws {
        try await perform(.removeDirectory(name: name, parent: parent), context: context).none()
    }

    public func readDirectory(_ directory: FileID, after cookie: UInt64, countMax: Int, context: OperationContext)
        async throws -> DirectoryPage
    {
        let count = UInt32(max(1, min(countMax, Limits.directoryPageEntriesMax)))
        return try await perform(.readDirectory(directory, cookie: cookie, countMax: count), context: context).page()
    }

    public func rename(
        _ name: String, in parent: FileID, to newName: String, in newParent: FileID, flags: RenameFlags,
        context: OperationContext
    ) async throws {
        try await perform(
            .rename(name: name, parent: parent, newName: newName, newParent: newParent, flags: flags),
            context: context
        ).none()
    }

    public func link(_ file: FileID, as name: String, in parent: FileID, context: OperationContext) async throws
        -> FileAttributes
    {
        try await perform(.link(file, name: name, parent: parent), context: context).attributes()
    }

    public func makeSymbolicLink(
        _ name: String, in parent: FileID, id: FileID, target: String, context: OperationContext
    ) async throws -> FileAttributes {
        try await perform(.makeSymbolicLink(name: name, parent: parent, id: id, target: target), context: context)
            .attributes()
    }

    public func readSymbolicLink(_ file: FileID, context: OperationContext) async throws -> String {
        try await perform(.readSymbolicLink(file), context: context).text()
    }

    public func makeNode(
        _ name: String, in parent: FileID, id: FileID, type: FileType, permissions: UInt32, device: UInt64,
        context: OperationContext
    ) async throws -> FileAttributes {
        try await perform(
            .makeNode(name: name, parent: parent, id: id, type: type, permissions: permissions, device: device),
            context: context
        ).attributes()
    }

    public func fileSystemStatistics(context: OperationContext) async throws -> FileSystemStatistics {
        try await perform(.fileSystemStatistics, context: context).statistics()
    }

    public func extendedAttribute(_ name: String, of file: FileID, context: OperationContext) async throws -> [UInt8] {
        try await perform(.extendedAttribute(name: name, file), context: context).bytes()
    }

    public func setExtendedAttribute(
        _ name: String, to value: [UInt8], mode: ExtendedAttributeMode, of file: FileID, context: OperationContext
    ) async throws {
        try await perform(.setExtendedAttribute(name: name, value: value, mode: mode, file), context: context).none()
    }

    public func extendedAttributeNames(of file: FileID, context: OperationContext) async throws -> [String] {
        try await perform(.extendedAttributeNames(file), context: context).names()
    }

    public func removeExtendedAttribute(_ name: String, of file: FileID, context: OperationContext) async throws {
        try await perform(.removeExtendedAttribute(name: name, file), context: context).none()
    }

    public func control(_ request: ControlRequest, context: OperationContext) async throws -> ControlReply {
        try await perform(.control(request), context: context).control()
    }
}
