import CFuse
import Glibc
import Logging
import MortarCore

/// A kernel request waiting for its reply. libfuse allows the reply from any thread, exactly once, which is what
/// lets a task answer after the thread that read the request has moved on.
struct Request: @unchecked Sendable {
    let raw: fuse_req_t

    init(_ raw: fuse_req_t) {
        self.raw = raw
    }

    /// The identity of the process that made the request: files it creates are owned by it, and bricks check
    /// permissions against it, so a non-root caller's supplementary groups go along (a group-writable directory
    /// must stay writable through the mount). Root is never checked by bricks, so its groups are not looked up.
    func context(logger: Logger) -> OperationContext {
        guard let caller = fuse_req_ctx(raw)?.pointee else { return OperationContext(logger: logger) }
        let groups = caller.uid == 0 ? [] : supplementaryGroups()
        return OperationContext(
            userID: caller.uid, groupID: caller.gid, supplementaryGroupIDs: groups, processID: Int32(caller.pid),
            logger: logger)
    }

    /// The caller's supplementary groups, which libfuse reads from `/proc/PID/task/TID/status`. A caller that has
    /// already exited has none (its request is answered by its primary group alone).
    private func supplementaryGroups() -> [UInt32] {
        var capacity = 32
        while capacity <= Int(NGROUPS_MAX) {
            var list = [gid_t](repeating: 0, count: capacity)
            let count = Int(fuse_req_getgroups(raw, Int32(capacity), &list))
            if count < 0 { return [] }
            if count <= capacity { return Array(list.prefix(count)) }
            capacity = count
        }
        return []
    }

    var processID: Int32 {
        Int32(fuse_req_ctx(raw)?.pointee.pid ?? 0)
    }

    func fail(_ errorNumber: Int32) {
        fuse_reply_err(raw, errorNumber)
    }

    /// Success for requests that return nothing but a status.
    func succeed() {
        fuse_reply_err(raw, 0)
    }

    func reply(bytes: UnsafeRawBufferPointer) {
        fuse_reply_buf(raw, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), bytes.count)
    }
}

extension stat {
    /// `struct stat` for attributes. `st_ino` is the FileID's inode number (stable across mounts); the node id the
    /// kernel uses to address the object travels separately.
    init(_ attributes: FileAttributes) {
        self.init()
        st_ino = ino_t(attributes.id.inodeNumber)
        st_mode = mode_t(attributes.mode)
        st_nlink = nlink_t(attributes.linkCount)
        st_uid = attributes.userID
        st_gid = attributes.groupID
        st_size = off_t(clamping: attributes.size)
        st_blocks = blkcnt_t(clamping: attributes.blocks)
        st_blksize = blksize_t(attributes.blockSize)
        st_rdev = dev_t(attributes.deviceNumber)
        st_atim = timespec(attributes.accessTime)
        st_mtim = timespec(attributes.modificationTime)
        st_ctim = timespec(attributes.changeTime)
    }
}

extension timespec {
    init(_ timestamp: Timestamp) {
        self.init(tv_sec: Int(timestamp.seconds), tv_nsec: Int(timestamp.nanoseconds))
    }
}

extension Timestamp {
    init(_ time: timespec) {
        self.init(seconds: Int64(time.tv_sec), nanoseconds: UInt32(clamping: max(0, min(time.tv_nsec, 999_999_999))))
    }
}
