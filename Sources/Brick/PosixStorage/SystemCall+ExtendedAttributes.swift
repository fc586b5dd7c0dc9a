import CMortarLinux
import Glibc
import MortarCore

/// Extended attribute calls. All of them act on the named object itself, never on a symbolic link's target: an
/// entry by name through `/proc/self/fd/N/name` with the l* calls (there are no *at forms), an open directory
/// with the f* calls.
extension SystemCall {
    /// The FileID stored on the object, or nil when it has none (not yet adopted).
    static func fileID(at object: ObjectPath, _ subject: String) throws -> FileID? {
        guard object.name != nil else { return try fileID(descriptor: object.directory, subject) }
        let path = object.procPath
        var bytes = [UInt8](repeating: 0, count: 16)
        let count = try idCall("lgetxattr", subject) {
            bytes.withUnsafeMutableBytes { cmortar_lgetxattr(path, idAttributeName, $0.baseAddress, 16) }
        }
        return try count.map { try decodeID($0, bytes, subject) }
    }

    /// The FileID stored on an open descriptor, or nil when it has none.
    static func fileID(descriptor: Int32, _ subject: String) throws -> FileID? {
        var bytes = [UInt8](repeating: 0, count: 16)
        let count = try idCall("fgetxattr", subject) {
            bytes.withUnsafeMutableBytes { cmortar_fgetxattr(descriptor, idAttributeName, $0.baseAddress, 16) }
        }
        return try count.map { try decodeID($0, bytes, subject) }
    }

    /// Stores a FileID on the object. Fails with EEXIST when it already has one, unless `replacing`.
    static func setFileID(_ id: FileID, at object: ObjectPath, replacing: Bool = false, _ subject: String) throws {
        let flags = replacing ? cmortar_xattr_replace : cmortar_xattr_create
        try setExtendedAttribute(idAttributeName, to: id.bytes, flags: flags, at: object, subject)
    }

    static func setFileID(_ id: FileID, descriptor: Int32, _ subject: String) throws {
        try setFileID(id, at: ObjectPath(directory: descriptor, name: nil), subject)
    }

    /// An attribute's value, sized by a query first. Retries a bounded number of times if it grows meanwhile.
    static func extendedAttribute(_ name: String, at object: ObjectPath, _ subject: String) throws -> [UInt8] {
        let limit = Limits.extendedAttributeValueByteCountMax
        guard object.name != nil else {
            return try sizedQuery("fgetxattr", subject, limit: limit) { buffer, size in
                cmortar_fgetxattr(object.directory, name, buffer, size)
            }
        }
        let path = object.procPath
        return try sizedQuery("lgetxattr", subject, limit: limit) { buffer, size in
            cmortar_lgetxattr(path, name, buffer, size)
        }
    }

    /// The names of an object's attributes, NUL-separated as the kernel lists them, split into strings.
    static func extendedAttributeNames(at object: ObjectPath, _ subject: String) throws -> [String] {
        let limit = Limits.extendedAttributeNamesByteCountMax
        let list: [UInt8]
        if object.name == nil {
            list = try sizedQuery("flistxattr", subject, limit: limit) { buffer, size in
                cmortar_flistxattr(object.directory, buffer?.assumingMemoryBound(to: CChar.self), size)
            }
        } else {
            let path = object.procPath
            list = try sizedQuery("llistxattr", subject, limit: limit) { buffer, size in
                cmortar_llistxattr(path, buffer?.assumingMemoryBound(to: CChar.self), size)
            }
        }
        return list.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
    }

    static func setExtendedAttribute(
        _ name: String, to value: [UInt8], flags: Int32, at object: ObjectPath, _ subject: String
    ) throws {
        guard object.name != nil else {
            _ = try retrying("fsetxattr", subject) {
                value.withUnsafeBytes {
                    cmortar_fsetxattr(object.directory, name, $0.baseAddress, value.count, flags)
                }
            }
            return
        }
        let path = object.procPath
        _ = try retrying("lsetxattr", subject) {
            value.withUnsafeBytes { cmortar_lsetxattr(path, name, $0.baseAddress, value.count, flags) }
        }
    }

    static func removeExtendedAttribute(_ name: String, at object: ObjectPath, _ subject: String) throws {
        guard object.name != nil else {
            _ = try retrying("fremovexattr", subject) { cmortar_fremovexattr(object.directory, name) }
            return
        }
        let path = object.procPath
        _ = try retrying("lremovexattr", subject) { cmortar_lremovexattr(path, name) }
    }

    /// Runs a get-style call, mapping "no such attribute" to nil.
    private static func idCall(_ call: String, _ subject: String, _ body: () -> Int) throws -> Int? {
        do {
            return try retrying(call, subject, body)
        } catch let error as FileSystemError where error.code == .noData {
            return nil
        }
    }

    private static func decodeID(_ count: Int, _ bytes: [UInt8], _ subject: String) throws -> FileID {
        guard count == 16, let id = FileID(bytes: bytes) else {
            throw FileSystemError(.inputOutput, "\(subject) has a malformed \(idAttributeName) of \(count) bytes")
        }
        return id
    }

    /// Asks for the size, then fetches into a buffer of that size; ERANGE means it grew, so ask again.
    private static func sizedQuery(
        _ call: String, _ subject: String, limit: Int, _ body: (UnsafeMutableRawPointer?, Int) -> Int
    ) throws -> [UInt8] {
        for _ in 0..<4 {
            let size = try retrying(call, subject) { body(nil, 0) }
            guard size <= limit else {
                throw FileSystemError(.argumentListTooLong, "\(call) \(subject): \(size) bytes exceed \(limit)")
            }
            var buffer = [UInt8](repeating: 0, count: size)
            do {
                let count = try retrying(call, subject) {
                    buffer.withUnsafeMutableBytes { body($0.baseAddress, size) }
                }
                return Array(buffer[0..<count])
            } catch let error as FileSystemError where error.code == .resultOutOfRange {
                continue
            }
        }
        throw FileSystemError(.resultOutOfRange, "\(call) \(subject): size kept changing while being read")
    }
}
