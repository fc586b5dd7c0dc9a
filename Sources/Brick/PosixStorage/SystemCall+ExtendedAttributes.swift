import CMortarLinux
import Glibc
import MortarCore

/// Extended attribute calls. All of them act on the named object itself, never on a symbolic link's target.
extension SystemCall {
    /// The FileID stored on the object at `path`, or nil when it has none (not yet adopted).
    static func fileID(at path: String, _ subject: String) throws -> FileID? {
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

    /// Stores a FileID on the object at `path`. Fails with EEXIST when it already has one, unless `replacing`.
    static func setFileID(_ id: FileID, at path: String, replacing: Bool = false, _ subject: String) throws {
        let bytes = id.bytes
        let flags = replacing ? cmortar_xattr_replace : cmortar_xattr_create
        _ = try retrying("lsetxattr", subject) {
            bytes.withUnsafeBytes { cmortar_lsetxattr(path, idAttributeName, $0.baseAddress, 16, flags) }
        }
    }

    static func setFileID(_ id: FileID, descriptor: Int32, _ subject: String) throws {
        let bytes = id.bytes
        _ = try retrying("fsetxattr", subject) {
            bytes.withUnsafeBytes {
                cmortar_fsetxattr(descriptor, idAttributeName, $0.baseAddress, 16, cmortar_xattr_create)
            }
        }
    }

    /// An attribute's value, sized by a query first. Retries a bounded number of times if it grows meanwhile.
    static func extendedAttribute(_ name: String, at path: String, _ subject: String) throws -> [UInt8] {
        try sizedQuery("lgetxattr", subject, limit: Limits.extendedAttributeValueByteCountMax) { buffer, size in
            cmortar_lgetxattr(path, name, buffer, size)
        }
    }

    /// The names of an object's attributes, NUL-separated as the kernel lists them, split into strings.
    static func extendedAttributeNames(at path: String, _ subject: String) throws -> [String] {
        let list = try sizedQuery("llistxattr", subject, limit: Limits.extendedAttributeNamesByteCountMax) {
            buffer, size in
            cmortar_llistxattr(path, buffer?.assumingMemoryBound(to: CChar.self), size)
        }
        return list.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
    }

    static func setExtendedAttribute(
        _ name: String, to value: [UInt8], flags: Int32, at path: String, _ subject: String
    ) throws {
        _ = try retrying("lsetxattr", subject) {
            value.withUnsafeBytes { cmortar_lsetxattr(path, name, $0.baseAddress, value.count, flags) }
        }
    }

    static func removeExtendedAttribute(_ name: String, at path: String, _ subject: String) throws {
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
