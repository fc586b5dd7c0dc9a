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
