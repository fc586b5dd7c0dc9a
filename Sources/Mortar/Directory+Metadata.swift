import MortarCore

/// The calls POSIX also makes on a directory's descriptor (`fstat`, `fchmod`, `futimens`, the `f*xattr` family),
/// by the directory's FileID: a directory stream holds nothing open on the bricks, and its FileID keeps naming the
/// same directory when it is renamed, as a descriptor would.
extension Directory {
    public func attributes() async throws -> FileAttributes {
        try await volume.stack.attributes(of: id, context: volume.context())
    }

    @discardableResult
    public func setAttributes(_ changes: AttributeChanges) async throws -> FileAttributes {
        // Remembered path walks must see the directory's new mode or owner (they check search permission).
        if changes.permissions != nil || changes.userID != nil || changes.groupID != nil {
            volume.forgetDirectoryEntries()
        }
        return try await volume.stack.setAttributes(changes, of: id, context: volume.context())
    }

    public func extendedAttribute(_ name: String) async throws -> [UInt8] {
        try await volume.stack.extendedAttribute(name, of: id, context: volume.context())
    }

    public func setExtendedAttribute(
        _ name: String, to value: [UInt8], mode: ExtendedAttributeMode = .createOrReplace
    ) async throws {
        try await volume.stack.setExtendedAttribute(name, to: value, mode: mode, of: id, context: volume.context())
    }

    public func extendedAttributeNames() async throws -> [String] {
        try await volume.stack.extendedAttributeNames(of: id, context: volume.context())
    }

    public func removeExtendedAttribute(_ name: String) async throws {
        try await volume.stack.removeExtendedAttribute(name, of: id, context: volume.context())
    }
}
