import CMortarGFAPI
import Glibc
import Mortar
import MortarCore

// Calls on an open file other than reading and writing: attributes, durability, space, locks.

@_cdecl("glfs_fstat")
public func glfs_fstat(_ handle: UnsafeMutableRawPointer?, _ target: UnsafeMutablePointer<stat>?) -> CInt {
    let output = CallerPointer(value: UnsafeMutableRawPointer(target))
    return DescriptorCall.onObject(handle, returning: -1) { object, _ in
        guard let output = output.value else { throw FileSystemError(.badAddress, "stat buffer is NULL") }
        let attributes = try await object.attributes()
        CLayouts.fill(output.assumingMemoryBound(to: stat.self), from: attributes,
                      device: deviceNumber(of: object.volume))
        return 0
    }
}

@_cdecl("glfs_fsync")
public func glfs_fsync(_ handle: UnsafeMutableRawPointer?, _ prestat: UnsafeMutablePointer<mortar_glfs_stat>?,
                       _ poststat: UnsafeMutablePointer<mortar_glfs_stat>?) -> CInt {
    synchronize(handle, dataOnly: false, prestat, poststat)
}

@_cdecl("glfs_fdatasync")
public func glfs_fdatasync(_ handle: UnsafeMutableRawPointer?, _ prestat: UnsafeMutablePointer<mortar_glfs_stat>?,
                           _ poststat: UnsafeMutablePointer<mortar_glfs_stat>?) -> CInt {
    synchronize(handle, dataOnly: true, prestat, poststat)
}

@_cdecl("glfs_ftruncate")
public func glfs_ftruncate(_ handle: UnsafeMutableRawPointer?, _ length: Int,
                           _ prestat: UnsafeMutablePointer<mortar_glfs_stat>?,
                           _ poststat: UnsafeMutablePointer<mortar_glfs_stat>?) -> CInt {
    let (before, after) = (CallerPointer(value: UnsafeMutableRawPointer(prestat)),
                           CallerPointer(value: UnsafeMutableRawPointer(poststat)))
    return DescriptorCall.onFile(handle, returning: -1) { file, _ in
        try await fillStat(before, of: file)
        try await file.truncate(to: try position(length))
        try await fillStat(after, of: file)
        return 0
    }
}

/// Allocates space; `keepSize` nonzero keeps the file size (FALLOC_FL_KEEP_SIZE), 0 may extend it.
@_cdecl("glfs_fallocate")
public func glfs_fallocate(_ handle: UnsafeMutableRawPointer?, _ keepSize: CInt, _ offset: Int, _ length: Int)
    -> CInt
{
    DescriptorCall.onFile(handle, returning: -1) { file, _ in
        try await file.allocate(at: try position(offset), length: try byteCount(length), keepSize: keepSize != 0)
        return 0
    }
}

/// Punches a hole: the range reads back as zeros and its space is freed.
@_cdecl("glfs_discard")
public func glfs_discard(_ handle: UnsafeMutableRawPointer?, _ offset: Int, _ length: Int) -> CInt {
    DescriptorCall.onFile(handle, returning: -1) { file, _ in
        try await file.discard(at: try position(offset), length: try byteCount(length))
        return 0
    }
}

@_cdecl("glfs_zerofill")
public func glfs_zerofill(_ handle: UnsafeMutableRawPointer?, _ offset: Int, _ length: Int) -> CInt {
    DescriptorCall.onFile(handle, returning: -1) { file, _ in
        try await file.zeroFill(at: try position(offset), length: try byteCount(length))
        return 0
    }
}

/// fcntl-style byte-range locks: F_GETLK, F_SETLK, F_SETLKW. Locks belong to the client instance (two
/// instances conflict as two processes would) and go away with its descriptors.
@_cdecl("glfs_posix_lock")
public func glfs_posix_lock(_ handle: UnsafeMutableRawPointer?, _ command: CInt, _ lock: UnsafeMutablePointer<flock>?)
    -> CInt
{
    let target = CallerPointer(value: UnsafeMutableRawPointer(lock))
    return DescriptorCall.onFile(handle, returning: -1) { file, descriptor in
        guard let pointer = target.value?.assumingMemoryBound(to: flock.self) else {
            throw FileSystemError(.badAddress, "flock is NULL")
        }
        let request = try await lockRequest(pointer.pointee, file: file, owner: descriptor.client.lockOwner)
        switch command {
        case F_GETLK:
            if let conflict = try await file.testLock(request) {
                pointer.pointee.l_type = Int16(conflict.kind == .read ? F_RDLCK : F_WRLCK)
                pointer.pointee.l_whence = Int16(SEEK_SET)
                // The brick's numbers, clamped to what an off_t holds (as the mount does), never trapped on.
                pointer.pointee.l_start = Int(clamping: conflict.start)
                pointer.pointee.l_len = Int(clamping: conflict.length)
                pointer.pointee.l_pid = conflict.processID
            } else {
                pointer.pointee.l_type = Int16(F_UNLCK)
            }
        case F_SETLK: try await file.lock(request, wait: false)
        case F_SETLKW: try await file.lock(request, wait: true)
        default: throw FileSystemError.invalidArgument("unknown lock command \(command)")
        }
        return 0
    }
}

@_cdecl("glfs_fchmod")
public func glfs_fchmod(_ handle: UnsafeMutableRawPointer?, _ mode: mode_t) -> CInt {
    setAttributes(handle, AttributeChanges(permissions: mode & 0o7777))
}

@_cdecl("glfs_fchown")
public func glfs_fchown(_ handle: UnsafeMutableRawPointer?, _ user: uid_t, _ group: gid_t) -> CInt {
    setAttributes(handle, ownerChanges(user, group))
}

@_cdecl("glfs_futimens")
public func glfs_futimens(_ handle: UnsafeMutableRawPointer?, _ times: UnsafePointer<timespec>?) -> CInt {
    CallBridge.immediate(returning: -1) { setAttributes(handle, try CLayouts.timeChanges(times)) }
}

@_cdecl("glfs_fsetattr")
public func glfs_fsetattr(_ handle: UnsafeMutableRawPointer?, _ source: UnsafeMutablePointer<mortar_glfs_stat>?)
    -> CInt
{
    CallBridge.immediate(returning: -1) {
        guard let source else { throw FileSystemError.invalidArgument("glfs_stat is NULL") }
        return setAttributes(handle, try CLayouts.changes(from: source.pointee))
    }
}

private func synchronize(_ handle: UnsafeMutableRawPointer?, dataOnly: Bool,
                         _ prestat: UnsafeMutablePointer<mortar_glfs_stat>?,
                         _ poststat: UnsafeMutablePointer<mortar_glfs_stat>?) -> CInt {
    let (before, after) = (CallerPointer(value: UnsafeMutableRawPointer(prestat)),
                           CallerPointer(value: UnsafeMutableRawPointer(poststat)))
    return DescriptorCall.onFile(handle, returning: -1) { file, _ in
        try await fillStat(before, of: file)
        try await file.synchronize(dataOnly: dataOnly)
        try await fillStat(after, of: file)
        return 0
    }
}

private func setAttributes(_ handle: UnsafeMutableRawPointer?, _ changes: AttributeChanges) -> CInt {
    DescriptorCall.onObject(handle, returning: -1) { object, _ in
        try await object.setAttributes(changes)
        return 0
    }
}

/// chown's convention: -1 (all ones) leaves the owner or group unchanged.
func ownerChanges(_ user: uid_t, _ group: gid_t) -> AttributeChanges {
    AttributeChanges(userID: user == uid_t.max ? nil : user, groupID: group == gid_t.max ? nil : group)
}

func byteCount(_ length: Int) throws -> UInt64 {
    guard length >= 0 else { throw FileSystemError.invalidArgument("negative length \(length)") }
    return UInt64(length)
}

/// A lock request from a `struct flock`, with SEEK_CUR/SEEK_END resolved and a negative length meaning the bytes
/// before `l_start`, as fcntl(2) defines it.
private func lockRequest(_ lock: flock, file: File, owner: UInt64) async throws -> LockRequest {
    let kind: LockRequest.Kind
    switch Int32(lock.l_type) {
    case F_RDLCK: kind = .read
    case F_WRLCK: kind = .write
    case F_UNLCK: kind = .unlock
    default: throw FileSystemError.invalidArgument("unknown lock type \(lock.l_type)")
    }
    // The base comes from this process (the position) or a brick (the size), the rest from the caller: every
    // sum is checked, so no value makes the call trap.
    let base: UInt64
    switch Int32(lock.l_whence) {
    case SEEK_SET: base = 0
    case SEEK_CUR: base = file.currentPosition
    case SEEK_END: base = try await file.attributes().size
    default: throw FileSystemError.invalidArgument("unknown whence \(lock.l_whence) in flock")
    }
    let overflow = FileSystemError(.valueOverflow, "lock range past the largest offset")
    guard let baseOffset = Int(exactly: base) else { throw overflow }
    var (start, overflowed) = baseOffset.addingReportingOverflow(lock.l_start)
    guard !overflowed else { throw overflow }
    var length = lock.l_len
    if length < 0 {
        guard length != Int.min else { throw overflow }
        (start, overflowed) = start.addingReportingOverflow(length)
        guard !overflowed else { throw overflow }
        length = -length
    }
    guard start >= 0 else { throw FileSystemError.invalidArgument("lock range starts before the file") }
    return LockRequest(kind: kind, start: UInt64(start), length: UInt64(length), owner: owner,
                       processID: getpid())
}

/// `st_dev` for files of a volume: derived from the volume's identity, the same in every client.
func deviceNumber(of volume: Volume) -> UInt64 {
    volumeIdentityBytes(volume.volumeID).withUnsafeBytes { $0.load(as: UInt64.self) }
}
