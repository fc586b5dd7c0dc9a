import CMortarLinux
import Glibc
import MortarCore

extension PosixStorage {
    /// Answered on the calling thread when the metadata lane is open (``InlineLane``): a cached lookup costs less
    /// than the trip to the I/O pool.
    public func lookup(_ name: String, in parent: FileID, context: OperationContext) async throws -> FileAttributes {
        try await run(inline: metadataLane, "lookup in \(parent)") { [self] in
            try withEntry(name, in: parent, use: .find) { try describe($0) }
        }
    }

    public func attributes(of file: FileID, context: OperationContext) async throws -> FileAttributes {
        try await run(inline: metadataLane, "attributes of \(file)") { [self] in
            try index.withLocation(file) { try describe($0) }
        }
    }

    /// Works for a file whose last name is gone: the descriptor still reaches it.
    public func attributes(ofOpen file: OpenFile, context: OperationContext) async throws -> FileAttributes {
        let descriptor = try descriptor(of: file)
        return try await run(inline: metadataLane, "open file \(file.id)") {
            let subject = "open file \(file.id)"
            let status = try SystemCall.fstat(descriptor.value, subject)
            let id = try SystemCall.fileID(descriptor: descriptor.value, subject) ?? file.id
            return try FileAttributes(status: status, id: id)
        }
    }

    public func setAttributes(_ changes: AttributeChanges, of file: FileID, context: OperationContext) async throws
        -> FileAttributes
    {
        try await run { [self] in
            try index.withLocation(file) { location in
                try apply(changes, to: location, before: describe(location), context: context)
                return try describe(location)
            }
        }
    }

    public func checkAccess(_ mask: AccessMask, to file: FileID, context: OperationContext) async throws {
        let attributes = try await attributes(of: file, context: context)
        guard AccessPolicy.permits(mask, attributes: attributes, context: context) else {
            throw FileSystemError(
                .permissionDenied,
                "access \(mask.rawValue) to FileID \(file) denied for user \(context.userID) "
                    + "(mode \(String(attributes.permissions, radix: 8)), owner \(attributes.userID))")
        }
    }

    /// Owner first, then mode: changing the owner clears set-user-id bits that a mode change may want to set.
    /// The set-user-ID and set-group-ID bits end as the caller's own chown, chmod or truncate would leave them on
    /// Linux (the brick's calls run as root, which keeps more): see ``AccessPolicy``.
    private func apply(
        _ changes: AttributeChanges, to location: Location, before: FileAttributes, context: OperationContext
    ) throws {
        let path = location.object
        let subject = location.subject
        let type = before.type
        // What a chown by this caller takes away; a mode sent with it (the FUSE kernel sends its own clearing as
        // a mode) cannot put it back.
        var chownDrops: UInt32 = 0
        if changes.userID != nil || changes.groupID != nil {
            if let kept = AccessPolicy.permissionsAfterModification(of: before, by: context, chown: true) {
                chownDrops = before.permissions & ~kept
            }
            try SystemCall.changeOwner(
                path, userID: changes.userID ?? UInt32.max, groupID: changes.groupID ?? UInt32.max, subject)
            // The kernel's chown as root dropped set-user-ID and set-group-ID with group-execute; a non-root
            // caller outside the file's group also loses set-group-ID without group-execute.
            if changes.permissions == nil, type != .symbolicLink,
                let kept = AccessPolicy.permissionsAfterModification(of: before, by: context, chown: true)
            {
                try SystemCall.changePermissions(path, kept, subject)
            }
        }
        // chmod follows symbolic links and Linux has no lchmod; a symbolic link's mode means nothing anyway.
        if let permissions = changes.permissions, type != .symbolicLink {
            let allowed = AccessPolicy.permissionsForChange(
                to: permissions & 0o7777 & ~chownDrops, groupID: changes.groupID ?? before.groupID, context: context)
            try SystemCall.changePermissions(path, allowed, subject)
        }
        if let size = changes.size {
            guard type == .regular else {
                let code: FileSystemError.Code = type == .directory ? .isDirectory : .invalidArgument
                throw FileSystemError(code, "cannot truncate \(subject): it is not a regular file")
            }
            if changes.permissions == nil,
                let kept = AccessPolicy.permissionsAfterModification(of: before, by: context)
            {
                try SystemCall.changePermissions(path, kept, subject)
            }
            try SystemCall.truncate(path, to: try Self.offset(size, subject), subject)
        }
        if changes.accessTime != nil || changes.modificationTime != nil {
            let access = Self.timeArgument(changes.accessTime)
            let modification = Self.timeArgument(changes.modificationTime)
            try SystemCall.setTimes(path, access: access, modification: modification, subject)
        }
    }

    private static func timeArgument(_ change: TimeChange?) -> (seconds: Int64, nanoseconds: Int) {
        switch change {
        case nil: (0, cmortar_utime_omit)
        case .now: (0, cmortar_utime_now)
        case .set(let time): (time.seconds, Int(time.nanoseconds))
        }
    }

    /// A file offset or size as `off_t`; values past its range are EINVAL rather than a trap.
    static func offset(_ value: UInt64, _ subject: String) throws -> off_t {
        guard let offset = off_t(exactly: value) else {
            throw FileSystemError.invalidArgument("offset \(value) on \(subject) is beyond the largest file offset")
        }
        return offset
    }
}
