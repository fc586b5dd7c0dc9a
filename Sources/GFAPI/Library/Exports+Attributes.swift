import CMortarGFAPI
import Glibc
import Mortar
import MortarCore

// Changing attributes by path, and the calling thread's identity.

@_cdecl("glfs_chmod")
public func glfs_chmod(_ handle: UnsafeMutableRawPointer?, _ path: UnsafePointer<CChar>?, _ mode: mode_t) -> CInt {
    setAttributes(handle, path, AttributeChanges(permissions: mode & 0o7777), followLast: true)
}

@_cdecl("glfs_chown")
public func glfs_chown(_ handle: UnsafeMutableRawPointer?, _ path: UnsafePointer<CChar>?, _ user: uid_t,
                       _ group: gid_t) -> CInt {
    setAttributes(handle, path, ownerChanges(user, group), followLast: true)
}

@_cdecl("glfs_lchown")
public func glfs_lchown(_ handle: UnsafeMutableRawPointer?, _ path: UnsafePointer<CChar>?, _ user: uid_t,
                        _ group: gid_t) -> CInt {
    setAttributes(handle, path, ownerChanges(user, group), followLast: false)
}

@_cdecl("glfs_utimens")
public func glfs_utimens(_ handle: UnsafeMutableRawPointer?, _ path: UnsafePointer<CChar>?,
                         _ times: UnsafePointer<timespec>?) -> CInt {
    CallBridge.immediate(returning: -1) {
        setAttributes(handle, path, try CLayouts.timeChanges(times), followLast: true)
    }
}

@_cdecl("glfs_lutimens")
public func glfs_lutimens(_ handle: UnsafeMutableRawPointer?, _ path: UnsafePointer<CChar>?,
                          _ times: UnsafePointer<timespec>?) -> CInt {
    CallBridge.immediate(returning: -1) {
        setAttributes(handle, path, try CLayouts.timeChanges(times), followLast: false)
    }
}

/// Sets the fields `source->mask` names (mode, owner, group, times, size); `follow` 0 acts on a link itself.
@_cdecl("glfs_setattr")
public func glfs_setattr(_ handle: UnsafeMutableRawPointer?, _ path: UnsafePointer<CChar>?,
                         _ source: UnsafeMutablePointer<mortar_glfs_stat>?, _ follow: CInt) -> CInt {
    CallBridge.immediate(returning: -1) {
        guard let source else { throw FileSystemError.invalidArgument("glfs_stat is NULL") }
        return setAttributes(handle, path, try CLayouts.changes(from: source.pointee), followLast: follow != 0)
    }
}

/// The calling thread acts as `user` from now on (files it creates are owned by it; permissions are checked
/// against it). Returns 0, unlike setfsuid(2), as GlusterFS's library does.
@_cdecl("glfs_setfsuid")
public func glfs_setfsuid(_ user: uid_t) -> CInt {
    mortar_thread_identity()!.pointee.user = user
    mortar_thread_identity()!.pointee.has_user = 1
    return 0
}

@_cdecl("glfs_setfsgid")
public func glfs_setfsgid(_ group: gid_t) -> CInt {
    mortar_thread_identity()!.pointee.group = group
    mortar_thread_identity()!.pointee.has_group = 1
    return 0
}

/// The calling thread's supplementary groups (at most 64; more is EINVAL).
@_cdecl("glfs_setfsgroups")
public func glfs_setfsgroups(_ count: Int, _ groups: UnsafePointer<gid_t>?) -> CInt {
    let identity = mortar_thread_identity()!
    let capacity = MemoryLayout.size(ofValue: identity.pointee.groups) / MemoryLayout<gid_t>.size
    guard count >= 0, count <= capacity, count == 0 || groups != nil else {
        mortar_set_errno(EINVAL)
        return -1
    }
    withUnsafeMutableBytes(of: &identity.pointee.groups) { storage in
        let slots = storage.bindMemory(to: gid_t.self)
        for index in 0..<count { slots[index] = groups![index] }
    }
    identity.pointee.group_count = CInt(count)
    identity.pointee.has_groups = 1
    return 0
}

private func setAttributes(_ handle: UnsafeMutableRawPointer?, _ path: UnsafePointer<CChar>?,
                           _ changes: AttributeChanges, followLast: Bool) -> CInt {
    onPath(handle, path) { volume, path in
        try await volume.setAttributes(path, changes, followLast: followLast)
        return 0
    }
}
