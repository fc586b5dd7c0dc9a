import Glibc

/// The `fileSystemID` a brick reports in its statistics: statvfs's `f_fsid` mixed with the host's identity.
///
/// Distribute counts the space of each file system once, by this id: bricks that share one disk must not add it
/// up two or three times. `f_fsid` alone tells file systems apart on one host only (hosts cloned from one image
/// even share their file systems' UUIDs, from which it is made), so the host is part of the id. A file system
/// that reports no `f_fsid` (0) keeps 0, which Distribute never merges.
enum FileSystemIdentity {
    /// `/etc/machine-id` (one per installation, the same in every network namespace of the host), else the host
    /// name.
    static let host: [UInt8] = {
        let descriptor = open("/etc/machine-id", O_RDONLY | O_CLOEXEC)
        if descriptor >= 0 {
            defer { close(descriptor) }
            var bytes = [UInt8](repeating: 0, count: 64)
            let count = bytes.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count > 0 { return Array(bytes.prefix(count)) }
        }
        var name = [CChar](repeating: 0, count: 256)
        guard gethostname(&name, name.count - 1) == 0 else { return [] }
        return name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
    }()

    /// `fsid` (statvfs's `f_fsid`) on this host as one 64-bit id, stable across processes (FNV-1a, not the
    /// per-process seeded `Hasher`): every brick process of the host must compute the same id for a disk.
    static func fileSystemID(_ fsid: UInt64) -> UInt64 {
        guard fsid != 0 else { return 0 }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        let fsidBytes = (0..<8).map { UInt8(truncatingIfNeeded: fsid >> ($0 * 8)) }
        for byte in host + fsidBytes {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        return hash == 0 ? 1 : hash
    }
}
