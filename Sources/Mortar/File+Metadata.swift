import MortarCore
import Synchronization

/// Calls on an open file that other APIs make by path: `fchmod`, `fchown`, `futimens`, the `f*xattr` family.
extension File {
    @discardableResult
    public func setAttributes(_ changes: AttributeChanges) async throws -> FileAttributes {
        // This may be an open directory: remembered path walks must see its new mode or owner.
        if changes.permissions != nil || changes.userID != nil || changes.groupID != nil {
            volume.forgetDirectoryEntries()
        }
        return try await volume.stack.setAttributes(changes, of: id, context: context())
    }

    public func extendedAttribute(_ name: String) async throws -> [UInt8] {
        try await volume.stack.extendedAttribute(name, of: id, context: context())
    }

    public func setExtendedAttribute(
        _ name: String, to value: [UInt8], mode: ExtendedAttributeMode = .createOrReplace
    ) async throws {
        try await volume.stack.setExtendedAttribute(name, to: value, mode: mode, of: id, context: context())
    }

    public func extendedAttributeNames() async throws -> [String] {
        try await volume.stack.extendedAttributeNames(of: id, context: context())
    }

    public func removeExtendedAttribute(_ name: String) async throws {
        try await volume.stack.removeExtendedAttribute(name, of: id, context: context())
    }

    /// Sets the position unpositioned reads and writes continue from (no checks: an `lseek(SEEK_SET)`).
    public func setPosition(_ offset: UInt64) {
        position.withLock { $0 = offset }
    }
}
