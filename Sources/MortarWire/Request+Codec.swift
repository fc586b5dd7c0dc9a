import MortarCore
import NIOCore

extension Request {
    /// Encodes credentials, opcode and fields as a request payload.
    public func encode(credentials: WireCredentials, into buffer: inout ByteBuffer) {
        if var trailer = encodeHead(credentials: credentials, into: &buffer) { buffer.writeBuffer(&trailer) }
    }

    /// Encodes everything but a write's data, which it returns to be sent after `buffer` without a copy.
    public func encodeHead(credentials: WireCredentials, into buffer: inout ByteBuffer) -> ByteBuffer? {
        buffer.writeInteger(opcode.rawValue)
        buffer.writeInteger(credentials.userID)
        buffer.writeInteger(credentials.groupID)
        buffer.writeInteger(UInt32(credentials.supplementaryGroupIDs.count))
        for group in credentials.supplementaryGroupIDs { buffer.writeInteger(group) }
        buffer.writeInteger(credentials.processID)
        buffer.writeInteger(credentials.replication.epoch)
        buffer.writeInteger(credentials.replication.role.rawValue)
        return encodeFields(into: &buffer)
    }

    /// Writes the request's fields; a write's data is returned instead, to follow without a copy.
    private func encodeFields(into buffer: inout ByteBuffer) -> ByteBuffer? {
        switch self {
        case .lookup(let name, let parent), .unlink(let name, let parent), .removeDirectory(let name, let parent):
            buffer.writeWireString(name)
            buffer.writeFileID(parent)
        case .attributes(let id), .readSymbolicLink(let id), .extendedAttributeNames(let id):
            buffer.writeFileID(id)
        case .attributesOfOpen(let file), .release(let file), .flush(let file):
            buffer.writeOpenFile(file)
        case .setAttributes(let changes, let id):
            buffer.writeFileID(id)
            encodeChanges(changes, into: &buffer)
        case .checkAccess(let mask, let id):
            buffer.writeFileID(id)
            buffer.writeInteger(mask.rawValue)
        case .create(let name, let parent, let id, let permissions, let flags):
            encodeEntry(name, parent, id, into: &buffer)
            buffer.writeInteger(permissions)
            buffer.writeInteger(flags.rawValue)
        case .open(let id, let flags):
            buffer.writeFileID(id)
            buffer.writeInteger(flags.rawValue)
        case .read(let file, let offset, let count):
            buffer.writeOpenFile(file)
            buffer.writeInteger(offset)
            buffer.writeInteger(count)
        case .write(let file, let offset, let data):
            buffer.writeOpenFile(file)
            buffer.writeInteger(offset)
            buffer.writeInteger(UInt32(data.readableBytes))
            return data
        case .truncate(let file, let size):
            buffer.writeOpenFile(file)
            buffer.writeInteger(size)
        case .synchronize(let file, let dataOnly):
            buffer.writeOpenFile(file)
            buffer.writeBool(dataOnly)
        case .allocate(let file, let offset, let length, let keepSize):
            encodeRange(file, offset, length, into: &buffer)
            buffer.writeBool(keepSize)
        case .discard(let file, let offset, let length), .zeroFill(let file, let offset, let length):
            encodeRange(file, offset, length, into: &buffer)
        case .seek(let file, let offset, let target):
            buffer.writeOpenFile(file)
            buffer.writeInteger(offset)
            buffer.writeInteger(target.rawValue)
        case .lock(let file, let lock, let wait):
            buffer.writeOpenFile(file)
            buffer.writeLockRequest(lock)
            buffer.writeBool(wait)
        case .testLock(let file, let lock):
            buffer.writeOpenFile(file)
            buffer.writeLockRequest(lock)
        case .makeDirectory(let name, let parent, let id, let permissions):
            encodeEntry(name, parent, id, into: &buffer)
            buffer.writeInteger(permissions)
        case .readDirectory(let id, let cookie, let countMax):
            buffer.writeFileID(id)
            buffer.writeInteger(cookie)
            buffer.writeInteger(countMax)
        case .rename(let name, let parent, let newName, let newParent, let flags):
            buffer.writeWireString(name)
            buffer.writeFileID(parent)
            buffer.writeWireString(newName)
            buffer.writeFileID(newParent)
            buffer.writeInteger(flags.rawValue)
        case .link(let id, let name, let parent):
            buffer.writeFileID(id)
            buffer.writeWireString(name)
            buffer.writeFileID(parent)
        case .makeSymbolicLink(let name, let parent, let id, let target):
            encodeEntry(name, parent, id, into: &buffer)
            buffer.writeWireString(target)
        case .makeNode(let name, let parent, let id, let type, let permissions, let device):
            encodeEntry(name, parent, id, into: &buffer)
            buffer.writeInteger(type.rawValue)
            buffer.writeInteger(permissions)
            buffer.writeInteger(device)
        case .fileSystemStatistics:
            break
        case .extendedAttribute(let name, let id), .removeExtendedAttribute(let name, let id):
            buffer.writeWireString(name)
            buffer.writeFileID(id)
        case .setExtendedAttribute(let name, let value, let mode, let id):
            buffer.writeWireString(name)
            buffer.writeWireBytes(value)
            buffer.writeInteger(mode.rawValue)
            buffer.writeFileID(id)
        case .control(let request):
            buffer.writeControlRequest(request)
        case .lookupAndRead(let name, let parent, let flags, let count):
            buffer.writeWireString(name)
            buffer.writeFileID(parent)
            buffer.writeInteger(flags.rawValue)
            buffer.writeInteger(count)
        case .grantLocalRead(let file):
            buffer.writeOpenFile(file)
        case .openAndRead(let id, let flags, let count):
            buffer.writeFileID(id)
            buffer.writeInteger(flags.rawValue)
            buffer.writeInteger(count)
        }
        return nil
    }

    private func encodeEntry(_ name: String, _ parent: FileID, _ id: FileID, into buffer: inout ByteBuffer) {
        buffer.writeWireString(name)
        buffer.writeFileID(parent)
        buffer.writeFileID(id)
    }

    private func encodeRange(_ file: OpenFile, _ offset: UInt64, _ length: UInt64, into buffer: inout ByteBuffer) {
        buffer.writeOpenFile(file)
        buffer.writeInteger(offset)
        buffer.writeInteger(length)
    }

    private func encodeChanges(_ changes: AttributeChanges, into buffer: inout ByteBuffer) {
        buffer.writeOptional(changes.permissions) { $0.writeInteger($1) }
        buffer.writeOptional(changes.userID) { $0.writeInteger($1) }
        buffer.writeOptional(changes.groupID) { $0.writeInteger($1) }
        buffer.writeOptional(changes.size) { $0.writeInteger($1) }
        buffer.writeOptional(changes.accessTime) { $0.writeTimeChange($1) }
        buffer.writeOptional(changes.modificationTime) { $0.writeTimeChange($1) }
    }
}
