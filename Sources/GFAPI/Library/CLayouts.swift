import CMortarGFAPI
import Glibc
import MortarCore

/// Filling the C structures callers pass in: `struct stat`, `struct glfs_stat`, `struct statvfs`, `struct dirent`,
/// and reading `struct timespec[2]` and `struct glfs_stat` as attribute changes.
enum CLayouts {
    static func fill(_ target: UnsafeMutablePointer<stat>, from attributes: FileAttributes, device: UInt64) {
        var result = stat()
        result.st_dev = UInt(device)
        result.st_ino = UInt(attributes.id.inodeNumber)
        result.st_mode = attributes.mode
        result.st_nlink = UInt(attributes.linkCount)
        result.st_uid = attributes.userID
        result.st_gid = attributes.groupID
        result.st_rdev = UInt(attributes.deviceNumber)
        result.st_size = Int(clamping: attributes.size)
        result.st_blksize = Int(attributes.blockSize)
        result.st_blocks = Int(clamping: attributes.blocks)
        result.st_atim = timespec(attributes.accessTime)
        result.st_mtim = timespec(attributes.modificationTime)
        result.st_ctim = timespec(attributes.changeTime)
        target.pointee = result
    }

    static func fill(_ target: UnsafeMutablePointer<mortar_glfs_stat>, from attributes: FileAttributes) {
        var result = mortar_glfs_stat()
        result.mask = 0x7FF  // every basic field: type, mode, links, owner, group, times, inode, size, blocks
        result.ino = attributes.id.inodeNumber
        result.mode = attributes.mode
        result.nlink = UInt64(attributes.linkCount)
        result.uid = attributes.userID
        result.gid = attributes.groupID
        result.size = Int(clamping: attributes.size)
        result.blocks = Int64(clamping: attributes.blocks)
        result.blksize = Int64(attributes.blockSize)
        result.rdev_major = major(attributes.deviceNumber)
        result.rdev_minor = minor(attributes.deviceNumber)
        result.atime = timespec(attributes.accessTime)
        result.mtime = timespec(attributes.modificationTime)
        result.ctime = timespec(attributes.changeTime)
        target.pointee = result
    }

    static func fill(_ target: UnsafeMutablePointer<statvfs>, from statistics: FileSystemStatistics) {
        var result = statvfs()
        result.f_bsize = UInt(statistics.blockSize)
        result.f_frsize = UInt(statistics.fragmentSize)
        result.f_blocks = UInt(statistics.blocks)
        result.f_bfree = UInt(statistics.blocksFree)
        result.f_bavail = UInt(statistics.blocksAvailable)
        result.f_files = UInt(statistics.files)
        result.f_ffree = UInt(statistics.filesFree)
        result.f_favail = UInt(statistics.filesAvailable)
        result.f_fsid = UInt(statistics.fileSystemID)
        result.f_flag = UInt(statistics.flags)
        result.f_namemax = UInt(statistics.nameLengthMax)
        target.pointee = result
    }

    /// Fills a `struct dirent`: inode, type and the NUL-terminated name (names are at most 255 bytes).
    static func fill(_ target: UnsafeMutablePointer<dirent>, from entry: DirectoryEntry) {
        target.pointee.d_ino = UInt(entry.attributes.id.inodeNumber)
        target.pointee.d_off = 0
        target.pointee.d_reclen = UInt16(MemoryLayout<dirent>.size)
        target.pointee.d_type = UInt8(truncatingIfNeeded: (entry.attributes.mode >> 12) & 0xF)
        withUnsafeMutableBytes(of: &target.pointee.d_name) { nameBytes in
            let utf8 = Array(entry.name.utf8.prefix(nameBytes.count - 1))
            nameBytes.copyBytes(from: utf8)
            nameBytes[utf8.count] = 0
        }
    }

    /// `times[0]` is the access time, `times[1]` the modification time; `UTIME_NOW` and `UTIME_OMIT` as in
    /// utimensat(2). A NULL array sets both to now.
    static func timeChanges(_ times: UnsafePointer<timespec>?) throws -> AttributeChanges {
        guard let times else { return AttributeChanges(accessTime: .now, modificationTime: .now) }
        return AttributeChanges(accessTime: try timeChange(times[0]), modificationTime: try timeChange(times[1]))
    }

    private static func timeChange(_ time: timespec) throws -> TimeChange? {
        switch time.tv_nsec {
        case MORTAR_UTIME_OMIT: return nil
        case MORTAR_UTIME_NOW: return .now
        case 0..<1_000_000_000: return .set(Timestamp(seconds: Int64(time.tv_sec), nanoseconds: UInt32(time.tv_nsec)))
        default: throw FileSystemError.invalidArgument("nanoseconds \(time.tv_nsec) out of range in a time")
        }
    }

    /// The changes a `glfs_setattr`/`glfs_fsetattr` asks for: the fields its mask names (mode, owner, group,
    /// times, size); the others are ignored.
    static func changes(from source: mortar_glfs_stat) throws -> AttributeChanges {
        var changes = AttributeChanges()
        let mask = source.mask
        if mask & UInt64(MORTAR_GLFS_STAT_MODE) != 0 { changes.permissions = source.mode & 0o7777 }
        if mask & UInt64(MORTAR_GLFS_STAT_UID) != 0 { changes.userID = source.uid }
        if mask & UInt64(MORTAR_GLFS_STAT_GID) != 0 { changes.groupID = source.gid }
        if mask & UInt64(MORTAR_GLFS_STAT_SIZE) != 0 {
            guard source.size >= 0 else { throw FileSystemError.invalidArgument("negative size \(source.size)") }
            changes.size = UInt64(source.size)
        }
        if mask & UInt64(MORTAR_GLFS_STAT_ATIME) != 0 { changes.accessTime = try timeChange(source.atime) }
        if mask & UInt64(MORTAR_GLFS_STAT_MTIME) != 0 {
            changes.modificationTime = try timeChange(source.mtime)
        }
        return changes
    }

    private static func timespec(_ time: Timestamp) -> Glibc.timespec {
        Glibc.timespec(tv_sec: Int(time.seconds), tv_nsec: Int(time.nanoseconds))
    }

    private static func major(_ device: UInt64) -> UInt32 {
        UInt32(truncatingIfNeeded: ((device >> 32) & 0xFFFF_F000) | ((device >> 8) & 0xFFF))
    }

    private static func minor(_ device: UInt64) -> UInt32 {
        UInt32(truncatingIfNeeded: ((device >> 12) & 0xFFFF_FF00) | (device & 0xFF))
    }

    /// Copies `bytes` to a caller's buffer the way getxattr(2) does: `size` 0 asks for the length; a buffer too
    /// small is ERANGE.
    static func copyOut(_ bytes: [UInt8], to buffer: UnsafeMutableRawPointer?, size: Int) throws -> Int {
        guard size > 0 else { return bytes.count }
        guard let buffer else { throw FileSystemError.invalidArgument("buffer is NULL") }
        guard bytes.count <= size else {
            throw FileSystemError(.resultOutOfRange, "value of \(bytes.count) bytes does not fit \(size)")
        }
        bytes.withUnsafeBytes { source in
            if let base = source.baseAddress { buffer.copyMemory(from: base, byteCount: source.count) }
        }
        return bytes.count
    }
}
