import CFuse
import Glibc
import Logging
import MortarCore
import NIOCore

/// The table of C callbacks libfuse calls, one per kernel request. Each decodes its arguments, copies whatever
/// lives in libfuse's memory (names, write data, `fuse_file_info`, `struct flock`) and hands the request to the
/// ``MountedFileSystem`` behind the session. Callbacks left nil answer ENOSYS (ioctl, poll, bmap,
/// copy_file_range; the kernel then falls back to its own way where it has one).
///
/// Built in this file rather than an executable's `main.swift`: closures there would be main-actor isolated, and
/// libfuse calls them on its own threads.
enum LowLevelOperations {
    static func make() -> fuse_lowlevel_ops {
        var operations = fuse_lowlevel_ops()
        operations.`init` = { userdata, connection in
            guard let userdata, let connection else { return }
            Unmanaged<MountedFileSystem>.fromOpaque(userdata).takeUnretainedValue().configure(connection)
        }
        addNames(&operations)
        addFiles(&operations)
        addDirectories(&operations)
        addExtendedAttributes(&operations)
        return operations
    }

    private static func addNames(_ operations: inout fuse_lowlevel_ops) {
        operations.lookup = { request, parent, name in
            fileSystem(request!).lookup(Request(request!), parent: parent, name: String(cString: name!))
        }
        operations.forget = { request, node, count in
            fileSystem(request!).forget(node, count: count)
            fuse_reply_none(request)
        }
        operations.forget_multi = { request, count, nodes in
            let mounted = fileSystem(request!)
            for index in 0..<count {
                mounted.forget(nodes![index].ino, count: nodes![index].nlookup)
            }
            fuse_reply_none(request)
        }
        operations.getattr = { request, node, info in
            fileSystem(request!).attributes(Request(request!), node: node, info: info)
        }
        operations.setattr = { request, node, status, fields, info in
            fileSystem(request!).setAttributes(Request(request!), node: node, status!.pointee, fields: fields, info: info)
        }
        operations.readlink = { request, node in
            fileSystem(request!).readSymbolicLink(Request(request!), node: node)
        }
        operations.mknod = { request, parent, name, mode, device in
            fileSystem(request!).makeNode(
                Request(request!), parent: parent, name: String(cString: name!), mode: mode, device: UInt64(device))
        }
        operations.mkdir = { request, parent, name, mode in
            fileSystem(request!).makeDirectory(
                Request(request!), parent: parent, name: String(cString: name!), mode: mode)
        }
        operations.unlink = { request, parent, name in
            fileSystem(request!).unlink(Request(request!), parent: parent, name: String(cString: name!))
        }
        operations.rmdir = { request, parent, name in
            fileSystem(request!).removeDirectory(Request(request!), parent: parent, name: String(cString: name!))
        }
        operations.symlink = { request, target, parent, name in
            fileSystem(request!).makeSymbolicLink(
                Request(request!), target: String(cString: target!), parent: parent, name: String(cString: name!))
        }
        operations.rename = { request, parent, name, newParent, newName, flags in
            fileSystem(request!).rename(
                Request(request!), parent: parent, name: String(cString: name!), newParent: newParent,
                newName: String(cString: newName!), flags: UInt32(flags))
        }
        operations.link = { request, node, newParent, newName in
            fileSystem(request!).link(
                Request(request!), node: node, newParent: newParent, newName: String(cString: newName!))
        }
        operations.statfs = { request, _ in
            fileSystem(request!).fileSystemStatistics(Request(request!))
        }
    }

    private static func addFiles(_ operations: inout fuse_lowlevel_ops) {
        operations.open = { request, node, info in
            fileSystem(request!).open(Request(request!), node: node, info: info!.pointee)
        }
        operations.create = { request, parent, name, mode, info in
            fileSystem(request!).create(
                Request(request!), parent: parent, name: String(cString: name!), mode: mode, info: info!.pointee)
        }
        operations.read = { request, _, size, offset, info in
            fileSystem(request!).read(Request(request!), handle: info!.pointee.fh, count: size, offset: Int64(offset))
        }
        operations.write = { request, _, bytes, size, offset, info in
            let data = ByteBuffer(bytes: UnsafeRawBufferPointer(start: bytes, count: size))
            fileSystem(request!).write(Request(request!), handle: info!.pointee.fh, data: data, offset: Int64(offset))
        }
        operations.flush = { request, _, info in
            fileSystem(request!).flush(Request(request!), handle: info!.pointee.fh, lockOwner: info!.pointee.lock_owner)
        }
        operations.release = { request, _, info in
            let flockOwner = cfuse_file_info_flock_release(info) != 0 ? info!.pointee.lock_owner : nil
            fileSystem(request!).release(Request(request!), handle: info!.pointee.fh, flockOwner: flockOwner)
        }
        operations.fsync = { request, _, dataOnly, info in
            fileSystem(request!).synchronize(Request(request!), handle: info!.pointee.fh, dataOnly: dataOnly != 0)
        }
        operations.fallocate = { request, _, mode, offset, length, info in
            fileSystem(request!).allocate(
                Request(request!), handle: info!.pointee.fh, mode: mode, offset: Int64(offset), length: Int64(length))
        }
        operations.lseek = { request, _, offset, whence, info in
            fileSystem(request!).seek(Request(request!), handle: info!.pointee.fh, offset: Int64(offset), whence: whence)
        }
        operations.getlk = { request, _, info, lock in
            fileSystem(request!).testLock(
                Request(request!), handle: info!.pointee.fh, lock: lock!.pointee, owner: info!.pointee.lock_owner)
        }
        operations.setlk = { request, _, info, lock, wait in
            fileSystem(request!).setLock(
                Request(request!), handle: info!.pointee.fh, lock: lock!.pointee, owner: info!.pointee.lock_owner,
                wait: wait != 0)
        }
        operations.flock = { request, _, info, operation in
            fileSystem(request!).flock(
                Request(request!), handle: info!.pointee.fh, operation: operation, owner: info!.pointee.lock_owner)
        }
    }

    private static func addDirectories(_ operations: inout fuse_lowlevel_ops) {
        operations.opendir = { request, node, info in
            fileSystem(request!).openDirectory(Request(request!), node: node, info: info!.pointee)
        }
        operations.readdir = { request, node, size, offset, info in
            fileSystem(request!).readDirectory(
                Request(request!), node: node, handle: info!.pointee.fh, size: size, offset: Int64(offset), plus: false)
        }
        operations.readdirplus = { request, node, size, offset, info in
            fileSystem(request!).readDirectory(
                Request(request!), node: node, handle: info!.pointee.fh, size: size, offset: Int64(offset), plus: true)
        }
        operations.releasedir = { request, _, info in
            fileSystem(request!).releaseDirectory(Request(request!), handle: info!.pointee.fh)
        }
        operations.fsyncdir = { request, _, _, _ in
            fileSystem(request!).synchronizeDirectory(Request(request!))
        }
    }

    private static func addExtendedAttributes(_ operations: inout fuse_lowlevel_ops) {
        operations.setxattr = { request, node, name, value, size, flags in
            let bytes = Array(UnsafeRawBufferPointer(start: value, count: size))
            fileSystem(request!).setExtendedAttribute(
                Request(request!), node: node, name: String(cString: name!), value: bytes, flags: flags)
        }
        operations.getxattr = { request, node, name, size in
            fileSystem(request!).extendedAttribute(
                Request(request!), node: node, name: String(cString: name!), size: size)
        }
        operations.listxattr = { request, node, size in
            fileSystem(request!).extendedAttributeNames(Request(request!), node: node, size: size)
        }
        operations.removexattr = { request, node, name in
            fileSystem(request!).removeExtendedAttribute(Request(request!), node: node, name: String(cString: name!))
        }
    }
}

/// The file system behind a request's session (a free function: C callbacks cannot capture anything).
private func fileSystem(_ request: fuse_req_t) -> MountedFileSystem {
    Unmanaged<MountedFileSystem>.fromOpaque(fuse_req_userdata(request)!).takeUnretainedValue()
}

extension MountedFileSystem {
    /// The `init` callback: what the mount asks of the kernel. Requests up to 1 MiB, parallel lookups in one
    /// directory, readdirplus, locks kept by the volume, and set-user-ID/set-group-ID bits cleared by the bricks
    /// (handle_killpriv): they clear them on a non-root caller's write, truncate and chown as Linux does. Without
    /// it the kernel clears them with a chmod in the writer's name, which a writer who is not the owner may not make
    /// (EPERM on the write). With the writeback cache, data reaches the bricks later without the writer's identity,
    /// so there the kernel keeps the job.
    func configure(_ connection: UnsafeMutablePointer<fuse_conn_info>) {
        var want = connection.pointee.want
        let capable = connection.pointee.capable
        want |= capable & (cfuse_cap_async_read | cfuse_cap_parallel_dirops | cfuse_cap_readdirplus
            | cfuse_cap_readdirplus_auto | cfuse_cap_async_dio | cfuse_cap_atomic_o_trunc | cfuse_cap_posix_locks
            | cfuse_cap_flock_locks | cfuse_cap_auto_inval_data)
        if options.writebackCache {
            want |= capable & cfuse_cap_writeback_cache
            want &= ~cfuse_cap_handle_killpriv
        } else {
            want &= ~cfuse_cap_writeback_cache
            want |= capable & cfuse_cap_handle_killpriv
        }
        connection.pointee.want = want
        // libfuse has already lowered max_write to what its buffers and the kernel allow; never ask for more.
        connection.pointee.max_write = min(connection.pointee.max_write, UInt32(Limits.ioByteCountMax))
        // Timestamps are kept to the nanosecond on the bricks.
        connection.pointee.time_gran = 1
        logger.info("kernel connection ready", metadata: [
            "protocol": "\(connection.pointee.proto_major).\(connection.pointee.proto_minor)",
            "max_write": "\(connection.pointee.max_write)", "writeback_cache": "\(options.writebackCache)",
            "capable": "\(String(capable, radix: 16))", "want": "\(String(want, radix: 16))",
        ])
    }
}
