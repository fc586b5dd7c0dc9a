import MortarCore
import NIOCore

extension Request {
    /// Runs the request against a stack of layers and wraps the result as a reply: the brick server's whole
    /// dispatch table, kept next to the enum and exhaustive, so that a new operation does not compile until it is
    /// dispatched here.
    public func perform(on target: any FileOperations, context: OperationContext) async throws -> Reply {
        switch self {
        case .lookup(let name, let parent):
            return .attributes(try await target.lookup(name, in: parent, context: context))
        case .attributes(let id):
            return .attributes(try await target.attributes(of: id, context: context))
        case .attributesOfOpen(let file):
            return .attributes(try await target.attributes(ofOpen: file, context: context))
        case .setAttributes(let changes, let id):
            return .attributes(try await target.setAttributes(changes, of: id, context: context))
        case .checkAccess(let mask, let id):
            try await target.checkAccess(mask, to: id, context: context)
            return .none
        case .create(let name, let parent, let id, let permissions, let flags):
            return .created(
                try await target.create(
                    name, in: parent, id: id, permissions: permissions, flags: flags, context: context))
        case .open(let id, let flags):
            return .opened(try await target.open(id, flags: flags, context: context))
        case .release(let file):
            try await target.release(file, context: context)
            return .none
        case .read(let file, let offset, let count):
            guard count <= Limits.ioByteCountMax else {
                throw FileSystemError.invalidArgument("read of \(count) bytes exceeds \(Limits.ioByteCountMax)")
            }
            return .data(try await target.read(from: file, at: offset, count: Int(count), context: context))
        case .write(let file, let offset, let data):
            return .number(UInt64(try await target.write(data, to: file, at: offset, context: context)))
        case .truncate(let file, let size):
            try await target.truncate(file, to: size, context: context)
            return .none
        case .synchronize(let file, let dataOnly):
            try await target.synchronize(file, dataOnly: dataOnly, context: context)
            return .none
        case .flush(let file):
            try await target.flush(file, context: context)
            return .none
        case .allocate(let file, let offset, let length, let keepSize):
            try await target.allocate(file, at: offset, length: length, keepSize: keepSize, context: context)
            return .none
        case .discard(let file, let offset, let length):
            try await target.discard(file, at: offset, length: length, context: context)
            return .none
        case .zeroFill(let file, let offset, let length):
            try await target.zeroFill(file, at: offset, length: length, context: context)
            return .none
        case .seek(let file, let offset, let seekTarget):
            return .number(try await target.seek(file, from: offset, to: seekTarget, context: context))
        case .lock(let file, let lock, let wait):
            try await target.lock(file, lock, wait: wait, context: context)
            return .none
        case .testLock(let file, let lock):
            return .lock(try await target.testLock(file, lock, context: context))
        case .unlink(let name, let parent):
            try await target.unlink(name, in: parent, context: context)
            return .none
        case .makeDirectory(let name, let parent, let id, let permissions):
            return .attributes(
                try await target.makeDirectory(name, in: parent, id: id, permissions: permissions, context: context))
        case .removeDirectory(let name, let parent):
            try await target.removeDirectory(name, in: parent, context: context)
            return .none
        case .readDirectory(let id, let cookie, let countMax):
            let count = min(Int(countMax), Limits.directoryPageEntriesMax)
            return .page(try await target.readDirectory(id, after: cookie, countMax: count, context: context))
        case .rename(let name, let parent, let newName, let newParent, let flags):
            try await target.rename(name, in: parent, to: newName, in: newParent, flags: flags, context: context)
            return .none
        case .link(let id, let name, let parent):
            return .attributes(try await target.link(id, as: name, in: parent, context: context))
        case .makeSymbolicLink(let name, let parent, let id, let linkTarget):
            return .attributes(
                try await target.makeSymbolicLink(name, in: parent, id: id, target: linkTarget, context: context))
        case .readSymbolicLink(let id):
            return .text(try await target.readSymbolicLink(id, context: context))
        case .makeNode(let name, let parent, let id, let type, let permissions, let device):
            return .attributes(
                try await target.makeNode(
                    name, in: parent, id: id, type: type, permissions: permissions, device: device, context: context))
        case .fileSystemStatistics:
            return .statistics(try await target.fileSystemStatistics(context: context))
        case .extendedAttribute(let name, let id):
            return .bytes(try await target.extendedAttribute(name, of: id, context: context))
        case .setExtendedAttribute(let name, let value, let mode, let id):
            try await target.setExtendedAttribute(name, to: value, mode: mode, of: id, context: context)
            return .none
        case .extendedAttributeNames(let id):
            return .names(try await target.extendedAttributeNames(of: id, context: context))
        case .removeExtendedAttribute(let name, let id):
            try await target.removeExtendedAttribute(name, of: id, context: context)
            return .none
        case .control(let request):
            return Reply(try await target.control(request, context: context))
        case .grantLocalRead(let file):
            return .localReadGrant(try await target.grantLocalRead(of: file, context: context))
        case .lookupAndRead(let name, let parent, let flags, let count):
            guard count <= Limits.quickReadByteCountMax else {
                throw FileSystemError.invalidArgument(
                    "lookup-and-read of \(count) bytes exceeds \(Limits.quickReadByteCountMax)")
            }
            return .found(
                try await target.lookupAndRead(name, in: parent, flags: flags, count: Int(count), context: context))
        case .openAndRead(let id, let flags, let count):
            guard count <= Limits.quickReadByteCountMax else {
                throw FileSystemError.invalidArgument(
                    "open-and-read of \(count) bytes exceeds \(Limits.quickReadByteCountMax)")
            }
            return .openedWithHead(
                try await target.openAndRead(id, flags: flags, count: Int(count), context: context))
        }
    }
}
