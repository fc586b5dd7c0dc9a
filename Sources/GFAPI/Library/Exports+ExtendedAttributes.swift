import CMortarGFAPI
import Glibc
import Mortar
import MortarCore

// Extended attributes, by path (following or not following a final symbolic link) and by descriptor (an open file
// or directory). Sizes work as in getxattr(2): size 0 asks for the length, a buffer too small is ERANGE; names
// lists are NUL-separated.

@_cdecl("glfs_getxattr")
public func glfs_getxattr(_ handle: UnsafeMutableRawPointer?, _ path: UnsafePointer<CChar>?,
                          _ name: UnsafePointer<CChar>?, _ value: UnsafeMutableRawPointer?, _ size: Int) -> Int {
    getAttribute(handle, path, name, value, size, followLast: true)
}

@_cdecl("glfs_lgetxattr")
public func glfs_lgetxattr(_ handle: UnsafeMutableRawPointer?, _ path: UnsafePointer<CChar>?,
                           _ name: UnsafePointer<CChar>?, _ value: UnsafeMutableRawPointer?, _ size: Int) -> Int {
    getAttribute(handle, path, name, value, size, followLast: false)
}

@_cdecl("glfs_fgetxattr")
public func glfs_fgetxattr(_ handle: UnsafeMutableRawPointer?, _ name: UnsafePointer<CChar>?,
                           _ value: UnsafeMutableRawPointer?, _ size: Int) -> Int {
    guard let name = argument(name, "attribute name") else { return -1 }
    let output = CallerMemory(base: value, count: size)
    return DescriptorCall.onObject(handle, returning: -1) { object, _ in
        try CLayouts.copyOut(try await object.extendedAttribute(name), to: output.base, size: output.count)
    }
}

@_cdecl("glfs_setxattr")
public func glfs_setxattr(_ handle: UnsafeMutableRawPointer?, _ path: UnsafePointer<CChar>?,
                          _ name: UnsafePointer<CChar>?, _ value: UnsafeRawPointer?, _ size: Int, _ flags: CInt)
    -> CInt
{
    setAttribute(handle, path, name, value, size, flags, followLast: true)
}

@_cdecl("glfs_lsetxattr")
public func glfs_lsetxattr(_ handle: UnsafeMutableRawPointer?, _ path: UnsafePointer<CChar>?,
                           _ name: UnsafePointer<CChar>?, _ value: UnsafeRawPointer?, _ size: Int, _ flags: CInt)
    -> CInt
{
    setAttribute(handle, path, name, value, size, flags, followLast: false)
}

@_cdecl("glfs_fsetxattr")
public func glfs_fsetxattr(_ handle: UnsafeMutableRawPointer?, _ name: UnsafePointer<CChar>?,
                           _ value: UnsafeRawPointer?, _ size: Int, _ flags: CInt) -> CInt {
    guard let name = argument(name, "attribute name"),
          let (bytes, mode) = CallBridge.immediate(returning: nil, { try attributeValue(value, size, flags) })
    else { return -1 }
    return DescriptorCall.onObject(handle, returning: -1) { object, _ in
        try await object.setExtendedAttribute(name, to: bytes, mode: mode)
        return 0
    }
}

@_cdecl("glfs_listxattr")
public func glfs_listxattr(_ handle: UnsafeMutableRawPointer?, _ path: UnsafePointer<CChar>?,
                           _ value: UnsafeMutableRawPointer?, _ size: Int) -> Int {
    listAttributes(handle, path, value, size, followLast: true)
}

@_cdecl("glfs_llistxattr")
public func glfs_llistxattr(_ handle: UnsafeMutableRawPointer?, _ path: UnsafePointer<CChar>?,
                            _ value: UnsafeMutableRawPointer?, _ size: Int) -> Int {
    listAttributes(handle, path, value, size, followLast: false)
}

@_cdecl("glfs_flistxattr")
public func glfs_flistxattr(_ handle: UnsafeMutableRawPointer?, _ value: UnsafeMutableRawPointer?, _ size: Int)
    -> Int
{
    let output = CallerMemory(base: value, count: size)
    return DescriptorCall.onObject(handle, returning: -1) { object, _ in
        try CLayouts.copyOut(nameList(try await object.extendedAttributeNames()), to: output.base, size: output.count)
    }
}

@_cdecl("glfs_removexattr")
public func glfs_removexattr(_ handle: UnsafeMutableRawPointer?, _ path: UnsafePointer<CChar>?,
                             _ name: UnsafePointer<CChar>?) -> CInt {
    removeAttribute(handle, path, name, followLast: true)
}

@_cdecl("glfs_lremovexattr")
public func glfs_lremovexattr(_ handle: UnsafeMutableRawPointer?, _ path: UnsafePointer<CChar>?,
                              _ name: UnsafePointer<CChar>?) -> CInt {
    removeAttribute(handle, path, name, followLast: false)
}

@_cdecl("glfs_fremovexattr")
public func glfs_fremovexattr(_ handle: UnsafeMutableRawPointer?, _ name: UnsafePointer<CChar>?) -> CInt {
    guard let name = argument(name, "attribute name") else { return -1 }
    return DescriptorCall.onObject(handle, returning: -1) { object, _ in
        try await object.removeExtendedAttribute(name)
        return 0
    }
}

private func getAttribute(_ handle: UnsafeMutableRawPointer?, _ path: UnsafePointer<CChar>?,
                          _ name: UnsafePointer<CChar>?, _ value: UnsafeMutableRawPointer?, _ size: Int,
                          followLast: Bool) -> Int {
    guard let name = argument(name, "attribute name") else { return -1 }
    let output = CallerMemory(base: value, count: size)
    return onPath(handle, path, returning: -1) { volume, path in
        let bytes = try await volume.extendedAttribute(name, of: path, followLast: followLast)
        return try CLayouts.copyOut(bytes, to: output.base, size: output.count)
    }
}

private func setAttribute(_ handle: UnsafeMutableRawPointer?, _ path: UnsafePointer<CChar>?,
                          _ name: UnsafePointer<CChar>?, _ value: UnsafeRawPointer?, _ size: Int, _ flags: CInt,
                          followLast: Bool) -> CInt {
    guard let name = argument(name, "attribute name"),
          let (bytes, mode) = CallBridge.immediate(returning: nil, { try attributeValue(value, size, flags) })
    else { return -1 }
    return onPath(handle, path) { volume, path in
        try await volume.setExtendedAttribute(name, to: bytes, of: path, mode: mode, followLast: followLast)
        return 0
    }
}

private func listAttributes(_ handle: UnsafeMutableRawPointer?, _ path: UnsafePointer<CChar>?,
                            _ value: UnsafeMutableRawPointer?, _ size: Int, followLast: Bool) -> Int {
    let output = CallerMemory(base: value, count: size)
    return onPath(handle, path, returning: -1) { volume, path in
        let names = try await volume.extendedAttributeNames(of: path, followLast: followLast)
        return try CLayouts.copyOut(nameList(names), to: output.base, size: output.count)
    }
}

private func removeAttribute(_ handle: UnsafeMutableRawPointer?, _ path: UnsafePointer<CChar>?,
                             _ name: UnsafePointer<CChar>?, followLast: Bool) -> CInt {
    guard let name = argument(name, "attribute name") else { return -1 }
    return onPath(handle, path) { volume, path in
        try await volume.removeExtendedAttribute(name, of: path, followLast: followLast)
        return 0
    }
}

private func argument(_ text: UnsafePointer<CChar>?, _ what: String) -> String? {
    CallBridge.immediate(returning: nil) { try String(cArgument: text, what) }
}

/// The value bytes and the mode from setxattr's `flags` (XATTR_CREATE 1, XATTR_REPLACE 2).
private func attributeValue(_ value: UnsafeRawPointer?, _ size: Int, _ flags: CInt) throws
    -> ([UInt8], ExtendedAttributeMode)
{
    guard size >= 0 else { throw FileSystemError.invalidArgument("negative attribute size \(size)") }
    guard size == 0 || value != nil else { throw FileSystemError(.badAddress, "attribute value is NULL") }
    let bytes = size == 0 ? [] : Array(UnsafeRawBufferPointer(start: value, count: size))
    switch flags {
    case 0: return (bytes, .createOrReplace)
    case 1: return (bytes, .createOnly)
    case 2: return (bytes, .replaceOnly)
    default: throw FileSystemError.invalidArgument("unknown setxattr flags \(flags)")
    }
}

private func nameList(_ names: [String]) -> [UInt8] {
    names.flatMap { Array($0.utf8) + [0] }
}
