import MortarCore

/// The brick-side layer that enforces POSIX permissions for the caller's identity (bricks run as root, so the
/// kernel enforces nothing). Names need search permission on their directory; creating, removing and renaming
/// need write and search permission on the directories involved (and the sticky-bit rule); opening needs read or
/// write permission on the file; listing needs read permission; attribute changes follow chmod/chown/utimens.
/// Root passes without a check, so root's calls cost nothing extra. As in NFS with AUTH_SYS, the identity is the
/// one the client states.
public final class PermissionLayer: GuardLayer {
    public let next: any FileOperations

    public init(next: any FileOperations) {
        self.next = next
    }

    public func lookup(_ name: String, in parent: FileID, context: OperationContext) async throws -> FileAttributes {
        try await require(.execute, on: parent, context: context)
        return try await next.lookup(name, in: parent, context: context)
    }

    public func open(_ file: FileID, flags: OpenFlags, context: OperationContext) async throws -> OpenFile {
        var mask: AccessMask = []
        if flags.contains(.read) || !flags.contains(.write) { mask.insert(.read) }
        if flags.contains(.write) || flags.contains(.truncate) { mask.insert(.write) }
        try await require(mask, on: file, context: context)
        return try await next.open(file, flags: flags, context: context)
    }

    public func openAndRead(_ file: FileID, flags: OpenFlags, count: Int, context: OperationContext) async throws
        -> OpenedFile
    {
        // Read permission, as the open it stands for (it refuses flags that would need write permission); the
        // read that follows an open is not checked again.
        try await require(.read, on: file, context: context)
        return try await next.openAndRead(file, flags: flags, count: count, context: context)
    }

    public func lookupAndRead(
        _ name: String, in parent: FileID, flags: OpenFlags, count: Int, context: OperationContext
    ) async throws -> FoundFile {
        // Search permission on the directory, as a lookup; read permission on the file, as its open — known only
        // once it is found, so a caller without it gets the lookup's answer alone, and its own open then fails.
        try await require(.execute, on: parent, context: context)
        let found = try await next.lookupAndRead(name, in: parent, flags: flags, count: count, context: context)
        guard let opened = found.opened, context.userID != 0,
            !AccessPolicy.permits(.read, attributes: found.attributes, context: context)
        else { return found }
        // Just opened on this brick, and never seen by the caller: a failed release could only be of a handle that
        // is already gone.
        try? await next.release(opened.file, context: context)
        return FoundFile(attributes: found.attributes, opened: nil)
    }

    public func create(
        _ name: String, in parent: FileID, id: FileID, permissions: UInt32, flags: OpenFlags,
        context: OperationContext
    ) async throws -> CreatedFile {
        try await require([.write, .execute], on: parent, context: context)
        return try await next.create(name, in: parent, id: id, permissions: permissions, flags: flags, context: context)
    }

    public func makeDirectory(
        _ name: String, in parent: FileID, id: FileID, permissions: UInt32, context: OperationContext
    ) async throws -> FileAttributes {
        try await require([.write, .execute], on: parent, context: context)
        return try await next.makeDirectory(name, in: parent, id: id, permissions: permissions, context: context)
    }

    public func makeSymbolicLink(
        _ name: String, in parent: FileID, id: FileID, target: String, context: OperationContext
    ) async throws -> FileAttributes {
        try await require([.write, .execute], on: parent, context: context)
        return try await next.makeSymbolicLink(name, in: parent, id: id, target: target, context: context)
    }

    public func makeNode(
        _ name: String, in parent: FileID, id: FileID, type: FileType, permissions: UInt32, device: UInt64,
        context: OperationContext
    ) async throws -> FileAttributes {
        // As mknod(2) without CAP_MKNOD: only root makes device nodes (they would reach any device on a client).
        if type == .characterDevice || type == .blockDevice, context.userID != 0 {
            throw FileSystemError(.operationNotPermitted, "only root may make device node '\(name)'")
        }
        try await require([.write, .execute], on: parent, context: context)
        return try await next.makeNode(
            name, in: parent, id: id, type: type, permissions: permissions, device: device, context: context)
    }

    public func link(_ file: FileID, as name: String, in parent: FileID, context: OperationContext) async throws
        -> FileAttributes
    {
        try await require([.write, .execute], on: parent, context: context)
        return try await next.link(file, as: name, in: parent, context: context)
    }

    public func unlink(_ name: String, in parent: FileID, context: OperationContext) async throws {
        try await requireRemovable(name, in: parent, context: context)
        try await next.unlink(name, in: parent, context: context)
    }

    public func removeDirectory(_ name: String, in parent: FileID, context: OperationContext) async throws {
        try await requireRemovable(name, in: parent, context: context)
        try await next.removeDirectory(name, in: parent, context: context)
    }

    public func rename(
        _ name: String, in parent: FileID, to newName: String, in newParent: FileID, flags: RenameFlags,
        context: OperationContext
    ) async throws {
        try await requireRemovable(name, in: parent, context: context)
        if let target = try await require([.write, .execute], on: newParent, context: context) {
            // Only ENOENT means there is no target to protect; any other failure to look fails the rename
            // rather than letting it replace a file the sticky bit guards.
            if let existing = try await FileSystemError.nilIfNotFound({
                try await next.lookup(newName, in: newParent, context: context)
            }),
                !AccessPolicy.mayRemove(existing, from: target, context: context)
            {
                throw FileSystemError(.permissionDenied, "'\(newName)' is in a sticky directory and not yours")
            }
        }
        try await next.rename(name, in: parent, to: newName, in: newParent, flags: flags, context: context)
    }

    public func readDirectory(_ directory: FileID, after cookie: UInt64, countMax: Int, context: OperationContext)
        async throws -> DirectoryPage
    {
        try await require(.read, on: directory, context: context)
        return try await next.readDirectory(directory, after: cookie, countMax: countMax, context: context)
    }

    public func setAttributes(_ changes: AttributeChanges, of file: FileID, context: OperationContext) async throws
        -> FileAttributes
    {
        if context.userID != 0 {
            let attributes = try await next.attributes(of: file, context: context)
            if let refusal = AccessPolicy.refusal(of: changes, to: attributes, context: context) { throw refusal }
        }
        return try await next.setAttributes(changes, of: file, context: context)
    }

    public func extendedAttribute(_ name: String, of file: FileID, context: OperationContext) async throws
        -> [UInt8]
    {
        try await requireAttributeAccess(name, .read, on: file, context: context)
        return try await next.extendedAttribute(name, of: file, context: context)
    }

    public func setExtendedAttribute(
        _ name: String, to value: [UInt8], mode: ExtendedAttributeMode, of file: FileID, context: OperationContext
    ) async throws {
        try await requireAttributeAccess(name, .write, on: file, context: context)
        try await next.setExtendedAttribute(name, to: value, mode: mode, of: file, context: context)
    }

    public func extendedAttributeNames(of file: FileID, context: OperationContext) async throws -> [String] {
        try await require(.read, on: file, context: context)
        return try await next.extendedAttributeNames(of: file, context: context)
    }

    public func removeExtendedAttribute(_ name: String, of file: FileID, context: OperationContext) async throws {
        try await requireAttributeAccess(name, .write, on: file, context: context)
        try await next.removeExtendedAttribute(name, of: file, context: context)
    }

    /// Control messages come from cluster hosts only (the brick session refuses them from anyone else), and
    /// those act as root: an application's request never gets here with another identity, but a request that
    /// did would be refused rather than run.
    public func control(_ request: ControlRequest, context: OperationContext) async throws -> ControlReply {
        guard context.userID == 0 else {
            throw FileSystemError(.operationNotPermitted, "a \(request.name) is sent by cluster hosts only")
        }
        return try await next.control(request, context: context)
    }

    @discardableResult
    private func require(_ mask: AccessMask, on file: FileID, context: OperationContext) async throws
        -> FileAttributes?
    {
        guard context.userID != 0 else { return nil }
        let attributes = try await next.attributes(of: file, context: context)
        guard AccessPolicy.permits(mask, attributes: attributes, context: context) else {
            throw FileSystemError(
                .permissionDenied,
                "permission \(mask.rawValue) denied to user \(context.userID) on FileID \(file) "
                    + "(mode \(String(attributes.permissions, radix: 8)), owner \(attributes.userID))")
        }
        return attributes
    }

    static let mortarAttributePrefix = "trusted.mortar."
    /// Distribute's link-file attribute (MortarDistribute's `Distribute.linkToAttribute`; the brick does not link
    /// the client's layers, so the name is repeated here and `PermissionLayerTests` checks the two agree).
    static let linkToAttributeName = "trusted.mortar.linkto"

    private func requireRemovable(_ name: String, in parent: FileID, context: OperationContext) async throws {
        guard let directory = try await require([.write, .execute], on: parent, context: context) else { return }
        guard directory.permissions & 0o1000 != 0 else { return }
        let entry = try await next.lookup(name, in: parent, context: context)
        guard AccessPolicy.mayRemove(entry, from: directory, context: context) else {
            throw FileSystemError(.permissionDenied, "'\(name)' is in a sticky directory and not yours")
        }
    }

    /// `user.*` attributes follow the file's permissions; other `trusted.*` and `security.*` names are root's.
    /// Mortar's own `trusted.mortar.*` names are read by anyone (distribute reads link files on every lookup) and
    /// written only by root and by bricks' roles (heal, forwarded changes), except `trusted.mortar.linkto`, which
    /// distribute writes on the caller's behalf on the link file the caller just made: its owner may set it.
    private func requireAttributeAccess(
        _ name: String, _ mask: AccessMask, on file: FileID, context: OperationContext
    ) async throws {
        guard context.userID != 0 else { return }
        if name.hasPrefix(Self.mortarAttributePrefix) {
            guard mask.contains(.write), context.replication.role == .client else { return }
            guard name == Self.linkToAttributeName else {
                throw FileSystemError(.operationNotPermitted, "only root and bricks may set attribute '\(name)'")
            }
            let attributes = try await next.attributes(of: file, context: context)
            guard attributes.userID == context.userID else {
                throw FileSystemError(.operationNotPermitted, "only the owner may set '\(name)' on a file")
            }
            return
        }
        if name.hasPrefix("trusted.") || (name.hasPrefix("security.") && mask.contains(.write)) {
            throw FileSystemError(.operationNotPermitted, "only root may use attribute '\(name)'")
        }
        try await require(mask, on: file, context: context)
    }
}
