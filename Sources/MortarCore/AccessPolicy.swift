/// The permission check `access(2)` would make for a caller. Bricks run as root, so the kernel would allow
/// everything; the brick checks the caller's identity against the mode bits itself.
public enum AccessPolicy {
    public static func permits(_ mask: AccessMask, attributes: FileAttributes, context: OperationContext) -> Bool {
        if context.userID == 0 {
            // Root may read and write anything, search any directory, and run a file with any execute bit.
            guard mask.contains(.execute), attributes.type != .directory else { return true }
            return attributes.permissions & 0o111 != 0
        }
        let granted: UInt32
        if attributes.userID == context.userID {
            granted = (attributes.permissions >> 6) & 0o7
        } else if attributes.groupID == context.groupID
            || context.supplementaryGroupIDs.contains(attributes.groupID)
        {
            granted = (attributes.permissions >> 3) & 0o7
        } else {
            granted = attributes.permissions & 0o7
        }
        return mask.rawValue & ~granted == 0
    }
}

extension AccessPolicy {
    /// Whether the caller belongs to `group` (primary or supplementary).
    public static func isMember(of group: UInt32, context: OperationContext) -> Bool {
        context.groupID == group || context.supplementaryGroupIDs.contains(group)
    }

    /// The sticky-bit rule for removing or renaming `entry` out of `directory`: in a sticky directory only the
    /// entry's owner, the directory's owner or root may.
    public static func mayRemove(
        _ entry: FileAttributes, from directory: FileAttributes, context: OperationContext
    ) -> Bool {
        directory.permissions & 0o1000 == 0 || context.userID == 0 || context.userID == entry.userID
            || context.userID == directory.userID
    }

    /// Why `context` may not make `changes` to a file with `attributes`, or nil when it may: only root gives files
    /// away; the owner changes mode, group (to one of its groups) and explicit times; setting times to now also
    /// needs only write permission; truncating needs write permission.
    public static func refusal(
        of changes: AttributeChanges, to attributes: FileAttributes, context: OperationContext
    ) -> FileSystemError? {
        guard context.userID != 0 else { return nil }
        let isOwner = attributes.userID == context.userID
        if let user = changes.userID, user != attributes.userID {
            return FileSystemError(.operationNotPermitted, "only root may change a file's owner")
        }
        if let group = changes.groupID, group != attributes.groupID, !isOwner || !isMember(of: group, context: context) {
            return FileSystemError(.operationNotPermitted, "only the owner may change the group, to one of its own")
        }
        if changes.permissions != nil, !isOwner {
            return FileSystemError(.operationNotPermitted, "only the owner may change the mode")
        }
        let setsExplicitTime = [changes.accessTime, changes.modificationTime].contains { change in
            if case .set = change { return true } else { return false }
        }
        if setsExplicitTime, !isOwner {
            return FileSystemError(.operationNotPermitted, "only the owner may set explicit times")
        }
        let needsWrite = changes.size != nil
            || (!isOwner && (changes.accessTime != nil || changes.modificationTime != nil))
        if needsWrite, !permits(.write, attributes: attributes, context: context) {
            return FileSystemError(.permissionDenied, "no write permission")
        }
        return nil
    }
}
