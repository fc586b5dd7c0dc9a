import CFuse
import Glibc
import MortarCore
import Synchronization

/// Extended attributes. A size of 0 asks only how large the value (or the list of names) is; a buffer that is too
/// small is ERANGE, as getxattr(2) says.
extension MountedFileSystem {
    /// Names the mount does not carry, answered EOPNOTSUPP without asking a brick: POSIX ACLs (the kernel checks
    /// permissions from the mode bits here, so a stored ACL would promise what nobody enforces) and SELinux labels
    /// (no policy on the client applies them). `ls -l` asks every file for both; a brick round trip each made
    /// `ls -lR` four times slower.
    static func isUnsupported(_ name: String) -> Bool {
        name.hasPrefix("system.posix_acl_") || name == "security.selinux"
    }

    func extendedAttribute(_ request: Request, node: UInt64, name: String, size: Int) {
        if Self.isUnsupported(name) {
            request.fail(FileSystemError.Code.notSupported.rawValue)
            return
        }
        if let id = inodes.withLock({ $0.id(of: node) }), absentAttributes.withLock({ $0.isKnownAbsent(name, on: id) }) {
            request.fail(FileSystemError.Code.noData.rawValue)
            return
        }
        serve(request) { context in
            let id = try self.fileID(of: node)
            do {
                let value = try await self.stack.extendedAttribute(name, of: id, context: context)
                try Self.replySized(request, value, size: size)
            } catch let error as FileSystemError where error.code == .noData {
                self.absentAttributes.withLock { $0.noteAbsent(name, on: id) }
                throw error
            }
        }
    }

    func extendedAttributeNames(_ request: Request, node: UInt64, size: Int) {
        serve(request) { context in
            let names = try await self.stack.extendedAttributeNames(of: try self.fileID(of: node), context: context)
            let list: [UInt8] = names.flatMap { Array($0.utf8) + [0] }
            try Self.replySized(request, list, size: size)
        }
    }

    /// The value arrives in libfuse's buffer, so the caller copies it first.
    func setExtendedAttribute(_ request: Request, node: UInt64, name: String, value: [UInt8], flags: Int32) {
        if Self.isUnsupported(name) {
            request.fail(FileSystemError.Code.notSupported.rawValue)
            return
        }
        serveChange(request) { context in
            let mode: ExtendedAttributeMode
            switch flags {
            case 0: mode = .createOrReplace
            case cfuse_xattr_create: mode = .createOnly
            case cfuse_xattr_replace: mode = .replaceOnly
            default: throw FileSystemError.invalidArgument("setxattr flags \(flags)")
            }
            let id = try self.fileID(of: node)
            self.absentAttributes.withLock { $0.forget(name, on: id) }
            try await self.stack.setExtendedAttribute(name, to: value, mode: mode, of: id, context: context)
            request.succeed()
        }
    }

    func removeExtendedAttribute(_ request: Request, node: UInt64, name: String) {
        if Self.isUnsupported(name) {
            request.fail(FileSystemError.Code.notSupported.rawValue)
            return
        }
        serveChange(request) { context in
            let id = try self.fileID(of: node)
            self.absentAttributes.withLock { $0.forget(name, on: id) }
            try await self.stack.removeExtendedAttribute(name, of: id, context: context)
            request.succeed()
        }
    }

    private static func replySized(_ request: Request, _ bytes: [UInt8], size: Int) throws {
        if size == 0 {
            fuse_reply_xattr(request.raw, bytes.count)
            return
        }
        guard bytes.count <= size else {
            throw FileSystemError(.resultOutOfRange, "\(bytes.count) bytes do not fit in \(size)")
        }
        bytes.withUnsafeBytes { request.reply(bytes: $0) }
    }
}
