import Glibc
import MortarCore

extension FileAttributes {
    /// Converts what `lstat`/`fstat` reported into Mortar's attributes.
    ///
    /// Link counts hide the brick's own bookkeeping: a non-directory's index entry is an extra hard link, and the
    /// root directory's hidden `.mortar` subdirectory adds one to the root's count.
    init(status: stat, id: FileID) throws {
        guard let type = FileType(modeBits: status.st_mode) else {
            throw FileSystemError(.inputOutput, "object \(id) has an unknown file type in mode \(status.st_mode)")
        }
        var linkCount = UInt32(clamping: status.st_nlink)
        if type != .directory || id == .root { linkCount = linkCount > 0 ? linkCount - 1 : 0 }
        self.init(
            id: id, type: type, permissions: status.st_mode & 0o7777, linkCount: linkCount,
            userID: status.st_uid, groupID: status.st_gid, size: UInt64(clamping: status.st_size),
            blocks: UInt64(clamping: status.st_blocks), blockSize: UInt32(clamping: status.st_blksize),
            deviceNumber: UInt64(status.st_rdev), accessTime: Timestamp(status.st_atim),
            modificationTime: Timestamp(status.st_mtim), changeTime: Timestamp(status.st_ctim))
    }
}

extension Timestamp {
    init(_ time: timespec) {
        let nanoseconds = UInt32(clamping: max(0, min(time.tv_nsec, 999_999_999)))
        self.init(seconds: Int64(time.tv_sec), nanoseconds: nanoseconds)
    }
}

/// The permission check `access(2)` would make for an unprivileged caller. The brick runs as root, so the kernel
/// would allow everything; the storage checks the caller's identity against the mode bits itself.
enum AccessPolicy {
    static func permits(_ mask: AccessMask, attributes: FileAttributes, context: OperationContext) -> Bool {
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
