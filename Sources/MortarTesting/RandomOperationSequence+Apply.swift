import MortarCore
import NIOCore

extension RandomOperationSequence {
    static func outcome(of operation: RandomOperation, on fileSystem: any FileOperations) async -> Outcome {
        do {
            return .success(try await apply(operation, to: fileSystem))
        } catch let error as FileSystemError {
            return .failure(error.code)
        } catch {
            return .unexpected("\(error)")
        }
    }

    /// Performs one operation and describes its result with only the fields that must agree.
    static func apply(_ operation: RandomOperation, to fileSystem: any FileOperations) async throws -> String {
        let context = OperationContext()
        switch operation {
        case .create(let name, let parent, let id, let exclusive):
            let flags: OpenFlags = exclusive ? [.readWrite, .create, .exclusive] : [.readWrite, .create]
            let created = try await fileSystem.create(
                name, in: parent, id: id, permissions: 0o644, flags: flags, context: context)
            try await fileSystem.release(created.file, context: context)
            return normalised(created.attributes)
        case .write(let id, let offset, let bytes, let append):
            let flags: OpenFlags = append ? [.write, .append] : .write
            let count = try await withOpen(id, flags, on: fileSystem) { file in
                try await fileSystem.write(ByteBuffer(bytes: bytes), to: file, at: offset, context: context)
            }
            return "wrote \(count); " + normalised(try await fileSystem.attributes(of: id, context: context))
        case .read(let id, let offset, let count):
            let buffer = try await withOpen(id, .read, on: fileSystem) { file in
                try await fileSystem.read(from: file, at: offset, count: count, context: context)
            }
            return digest(Array(buffer.readableBytesView))
        case .openAndRead(let id, let count):
            let opened = try await fileSystem.openAndRead(id, flags: .read, count: count, context: context)
            try await fileSystem.release(opened.file, context: context)
            return digest(Array(opened.head.readableBytesView))
        case .lookupAndRead(let name, let parent, let count):
            let found = try await fileSystem.lookupAndRead(name, in: parent, flags: .read, count: count, context: context)
            guard let opened = found.opened else { return "not opened; " + normalised(found.attributes) }
            try await fileSystem.release(opened.file, context: context)
            return normalised(found.attributes) + "; " + digest(Array(opened.head.readableBytesView))
        case .resize(let id, let size):
            return normalised(
                try await fileSystem.setAttributes(AttributeChanges(size: size), of: id, context: context))
        case .rename(let name, let parent, let newName, let newParent, let flags):
            try await fileSystem.rename(name, in: parent, to: newName, in: newParent, flags: flags, context: context)
            return "renamed"
        case .link(let id, let name, let parent):
            return normalised(try await fileSystem.link(id, as: name, in: parent, context: context))
        case .makeSymbolicLink(let name, let parent, let id, let target):
            return normalised(
                try await fileSystem.makeSymbolicLink(name, in: parent, id: id, target: target, context: context))
        case .unlink(let name, let parent):
            try await fileSystem.unlink(name, in: parent, context: context)
            return "unlinked"
        case .makeDirectory(let name, let parent, let id):
            return normalised(
                try await fileSystem.makeDirectory(name, in: parent, id: id, permissions: 0o755, context: context))
        case .removeDirectory(let name, let parent):
            try await fileSystem.removeDirectory(name, in: parent, context: context)
            return "removed"
        default:
            return try await applyQuery(operation, to: fileSystem, context: context)
        }
    }

    /// The operations that only read, plus extended attributes.
    private static func applyQuery(
        _ operation: RandomOperation, to fileSystem: any FileOperations, context: OperationContext
    ) async throws -> String {
        switch operation {
        case .setExtendedAttribute(let name, let id, let value, let mode):
            try await fileSystem.setExtendedAttribute(name, to: value, mode: mode, of: id, context: context)
            return "set"
        case .extendedAttribute(let name, let id):
            return digest(try await fileSystem.extendedAttribute(name, of: id, context: context))
        case .extendedAttributeNames(let id):
            let names = try await fileSystem.extendedAttributeNames(of: id, context: context)
            return names.filter { $0.hasPrefix("user.") }.sorted().joined(separator: ",")
        case .removeExtendedAttribute(let name, let id):
            try await fileSystem.removeExtendedAttribute(name, of: id, context: context)
            return "removed"
        case .readDirectory(let id, let countMax):
            return try await listing(id, countMax: countMax, on: fileSystem, context: context)
        case .lookup(let name, let parent):
            return normalised(try await fileSystem.lookup(name, in: parent, context: context))
        case .attributes(let id):
            return normalised(try await fileSystem.attributes(of: id, context: context))
        case .readSymbolicLink(let id):
            return try await fileSystem.readSymbolicLink(id, context: context)
        default:
            preconditionFailure("operation \(operation.summary) is not a query")
        }
    }

    private static func withOpen<Result: Sendable>(
        _ id: FileID, _ flags: OpenFlags, on fileSystem: any FileOperations,
        _ body: (OpenFile) async throws -> Result
    ) async throws -> Result {
        let file = try await fileSystem.open(id, flags: flags, context: OperationContext())
        let result: Result
        do {
            result = try await body(file)
        } catch {
            // Cleanup: the model and the subject are compared on what the operation answered.
            try? await fileSystem.release(file, context: OperationContext())
            throw error
        }
        try await fileSystem.release(file, context: OperationContext())
        return result
    }

    /// A whole listing, sorted by name (layers may list in any order), without `.` and `..`.
    private static func listing(
        _ id: FileID, countMax: Int, on fileSystem: any FileOperations, context: OperationContext
    ) async throws -> String {
        var lines: [String] = []
        var cookie: UInt64 = 0
        for _ in 0..<10_000 {
            let page = try await fileSystem.readDirectory(id, after: cookie, countMax: countMax, context: context)
            lines += page.entries.filter { $0.name != "." && $0.name != ".." }.map {
                "\($0.name)=\(normalised($0.attributes))"
            }
            guard let next = page.nextCookie else { return lines.sorted().joined(separator: "; ") }
            cookie = next
        }
        throw ConformanceFailure("listing of \(id) did not end after 10000 pages")
    }

    static func normalised(_ attributes: FileAttributes) -> String {
        let size = attributes.type == .directory ? "-" : String(attributes.size)
        return "\(attributes.id) \(attributes.type) mode=\(String(attributes.permissions, radix: 8)) "
            + "links=\(attributes.linkCount) owner=\(attributes.userID):\(attributes.groupID) size=\(size)"
    }

    /// Data as its length and an FNV-1a digest, so failure messages stay short.
    static func digest(_ bytes: [UInt8]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        return "\(bytes.count) bytes, digest \(String(hash, radix: 16))"
    }
}
