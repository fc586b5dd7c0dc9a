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

/// Linux's rules for the set-user-ID and set-group-ID bits, which bricks apply for the caller because they act as
/// root (whose writes and chowns keep bits a client's would lose). Root stands for CAP_FSETID. Each rule names the
/// kernel function it follows (Linux 6.x, fs/attr.c, fs/inode.c).
extension AccessPolicy {
    static let setUserID: UInt32 = 0o4000
    static let setGroupID: UInt32 = 0o2000
    static let groupExecute: UInt32 = 0o0010

    /// The permissions a regular file keeps after `context` changes its data (write, truncate, fallocate) or, with
    /// `chown: true`, its owner — nil when they stay as they are. `setattr_should_drop_suidgid`: set-user-ID always
    /// goes; set-group-ID goes with group-execute (a real privilege) or when the caller is not in the file's group
    /// (without group-execute it marks mandatory locking, which only the group may keep). Root keeps both on writes.
    /// chown(2) (`chown_common`) drops set-user-ID for every caller, root too, and set-group-ID by the same test as
    /// a write — for root that is the group-execute case only. Directories keep both (their set-group-ID bit means
    /// "inherit the group").
    public static func permissionsAfterModification(
        of attributes: FileAttributes, by context: OperationContext, chown: Bool = false
    ) -> UInt32? {
        let permissions = attributes.permissions
        guard permissions & (setUserID | setGroupID) != 0 else { return nil }
        if chown {
            guard attributes.type != .directory else { return nil }
        } else {
            guard attributes.type == .regular, context.userID != 0 else { return nil }
        }
        var kept = permissions & ~setUserID
        if permissions & setGroupID != 0,
            permissions & groupExecute != 0
                || (context.userID != 0 && !isMember(of: attributes.groupID, context: context))
        {
            kept &= ~setGroupID
        }
        return kept == permissions ? nil : kept
    }

    /// The group and permissions of an object `context` creates in `directory` (`inode_init_owner`,
    /// `mode_strip_sgid`): in a set-group-ID directory the object takes the directory's group and a new directory
    /// the set-group-ID bit too; a non-directory's set-group-ID bit with group-execute is dropped there when the
    /// caller is not in that group.
    public static func ownership(
        ofNew type: FileType, permissions: UInt32, in directory: FileAttributes, context: OperationContext
    ) -> (groupID: UInt32, permissions: UInt32) {
        guard directory.permissions & setGroupID != 0 else { return (context.groupID, permissions) }
        if type == .directory { return (directory.groupID, permissions | setGroupID) }
        if permissions & (setGroupID | groupExecute) == setGroupID | groupExecute, context.userID != 0,
            !isMember(of: directory.groupID, context: context)
        {
            return (directory.groupID, permissions & ~setGroupID)
        }
        return (directory.groupID, permissions)
    }

    /// The permissions a chmod by `context` actually sets (`setattr_copy`): a caller outside the file's group
    /// (after the change) cannot set its set-group-ID bit, which is silently dropped, as Linux does.
    public static func permissionsForChange(
        to permissions: UInt32, groupID: UInt32, context: OperationContext
    ) -> UInt32 {
        guard context.userID != 0, permissions & setGroupID != 0, !isMember(of: groupID, context: context) else {
            return permissions
        }
        return permissions & ~setGroupID
    }
}
