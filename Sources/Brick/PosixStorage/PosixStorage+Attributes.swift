import CMortarLinux
import Glibc
import MortarCore

extension PosixStorage {
    public func lookup(_ name: String, in parent: FileID, context: OperationContext) async throws -> FileAttributes {
        try await run { [self] in try describe(entry(name, in: parent, use: .find)) }
    }

    public func attributes(of file: FileID, context: OperationContext) async throws -> FileAttributes {
        try await run { [self] in try describe(index.locate(file)) }
    }

    /// Works for a file whose last name is gone: the descriptor still reaches it.
    public func attributes(ofOpen file: OpenFile, context: OperationContext) async throws -> FileAttributes {
        let descriptor = try descriptor(of: file)
        return try await run {
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
            let location = try index.locate(file)
            let type = try describe(location).type
            try apply(changes, to: location, type: type)
            return try describe(location)
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
    private func apply(_ changes: AttributeChanges, to location: Location, type: FileType) throws {
        let path = location.path
        let subject = location.subject
        if changes.userID != nil || changes.groupID != nil {
            try SystemCall.changeOwner(
                path, userID: changes.userID ?? UInt32.max, groupID: changes.groupID ?? UInt32.max, subject)
        }
        // chmod follows symbolic links and Linux has no lchmod; a symbolic link's mode means nothing anyway.
        if let permissions = changes.permissions, type != .symbolicLink {
            try SystemCall.changePermissions(path, permissions & 0o7777, subject)
        }
        if let size = changes.size {
            guard type == .regular else {
                let code: FileSystemError.Code = type == .directory ? .isDirectory : .invalidArgument
                throw FileSystemError(code, "cannot truncate \(subject): it is not a regular file")
            }
            try SystemCall.truncate(path, to: try Self.offset(size, subject), subject)
        }
        if changes.accessTime != nil || changes.modificationTime != nil {
            let access = Self.timeArgument(changes.accessTime)
            let modification = Self.timeArgument(changes.modificationTime)
            _ = try SystemCall.retrying("utimensat", subject) {
                cmortar_utimens_nofollow(path, access.seconds, access.nanoseconds, modification.seconds,
                                         modification.nanoseconds)
            }
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
