import MortarCore
import NIOCore

extension Request {
    /// Decodes a request payload. Every length is checked against its bound before anything is allocated, and
    /// every byte must be consumed: anything else is a ``WireError``.
    public static func decode(_ payload: ByteBuffer) throws(WireError) -> (Request, WireCredentials) {
        var reader = WireReader(payload)
        let opcode = try reader.integer(UInt8.self, "opcode")
        let credentials = try decodeCredentials(&reader)
        let request = try decodeFields(opcode: opcode, &reader)
        try reader.expectEnd("request \(opcode)")
        return (request, credentials)
    }

    private static func decodeCredentials(_ reader: inout WireReader) throws(WireError) -> WireCredentials {
        let userID = try reader.integer(UInt32.self, "user id")
        let groupID = try reader.integer(UInt32.self, "group id")
        let groupCount = Int(try reader.integer(UInt32.self, "group count"))
        guard groupCount <= WireCredentials.supplementaryGroupsMax else {
            throw WireError("\(groupCount) supplementary groups exceed \(WireCredentials.supplementaryGroupsMax)")
        }
        guard reader.buffer.readableBytes >= groupCount * 4 else { throw WireError("truncated group list") }
        var groups: [UInt32] = []
        groups.reserveCapacity(groupCount)
        for _ in 0..<groupCount { groups.append(try reader.integer(UInt32.self, "group")) }
        let processID = try reader.integer(Int32.self, "process id")
        let epoch = try reader.integer(UInt64.self, "epoch")
        let roleValue = try reader.integer(UInt8.self, "replication role")
        guard let role = ReplicationStamp.Role(rawValue: roleValue) else {
            throw WireError("invalid replication role \(roleValue)")
        }
        return WireCredentials(
            userID: userID, groupID: groupID, supplementaryGroupIDs: groups, processID: processID,
            replication: ReplicationStamp(epoch: epoch, role: role))
    }

    private static func decodeFields(opcode number: UInt8, _ r: inout WireReader) throws(WireError) -> Request {
        guard let opcode = Opcode(rawValue: number) else { throw WireError("unknown opcode \(number)") }
        switch opcode {
        case .lookup: return .lookup(name: try r.string("name"), parent: try r.fileID("parent"))
        case .attributes: return .attributes(try r.fileID("file"))
        case .attributesOfOpen: return .attributesOfOpen(try r.openFile("file"))
        case .setAttributes:
            let id = try r.fileID("file")
            return .setAttributes(try decodeChanges(&r), id)
        case .checkAccess:
            let id = try r.fileID("file")
            return .checkAccess(AccessMask(rawValue: try r.integer(UInt32.self, "access mask")), id)
        case .create:
            let (name, parent, id) = try decodeEntry(&r)
            return .create(
                name: name, parent: parent, id: id, permissions: try r.integer(UInt32.self, "permissions"),
                flags: OpenFlags(rawValue: try r.integer(UInt32.self, "open flags")))
        case .open:
            return .open(try r.fileID("file"), flags: OpenFlags(rawValue: try r.integer(UInt32.self, "open flags")))
        case .release: return .release(try r.openFile("file"))
        case .read:
            return .read(
                try r.openFile("file"), offset: try r.integer(UInt64.self, "offset"),
                count: try r.integer(UInt32.self, "count"))
        case .write:
            let file = try r.openFile("file")
            let offset = try r.integer(UInt64.self, "offset")
            return .write(file, offset: offset, data: try r.slice("write data", byteCountMax: Limits.ioByteCountMax))
        case .truncate: return .truncate(try r.openFile("file"), size: try r.integer(UInt64.self, "size"))
        case .synchronize: return .synchronize(try r.openFile("file"), dataOnly: try r.bool("data only"))
        case .flush: return .flush(try r.openFile("file"))
        case .allocate:
            let (file, offset, length) = try decodeRange(&r)
            return .allocate(file, offset: offset, length: length, keepSize: try r.bool("keep size"))
        case .discard:
            let (file, offset, length) = try decodeRange(&r)
            return .discard(file, offset: offset, length: length)
        case .zeroFill:
            let (file, offset, length) = try decodeRange(&r)
            return .zeroFill(file, offset: offset, length: length)
        case .seek:
            return .seek(
                try r.openFile("file"), offset: try r.integer(UInt64.self, "offset"),
                target: try r.enumeration(SeekTarget.self, "seek target"))
        case .lock: return .lock(try r.openFile("file"), try r.lockRequest(), wait: try r.bool("wait"))
        case .testLock: return .testLock(try r.openFile("file"), try r.lockRequest())
        case .unlink: return .unlink(name: try r.string("name"), parent: try r.fileID("parent"))
        case .makeDirectory:
            let (name, parent, id) = try decodeEntry(&r)
            return .makeDirectory(
                name: name, parent: parent, id: id, permissions: try r.integer(UInt32.self, "permissions"))
        case .removeDirectory: return .removeDirectory(name: try r.string("name"), parent: try r.fileID("parent"))
        case .readDirectory:
            return .readDirectory(
                try r.fileID("directory"), cookie: try r.integer(UInt64.self, "cookie"),
                countMax: try r.integer(UInt32.self, "count"))
        case .rename:
            return .rename(
                name: try r.string("name"), parent: try r.fileID("parent"), newName: try r.string("new name"),
                newParent: try r.fileID("new parent"),
                flags: RenameFlags(rawValue: try r.integer(UInt32.self, "rename flags")))
        case .link: return .link(try r.fileID("file"), name: try r.string("name"), parent: try r.fileID("parent"))
        case .makeSymbolicLink:
            let (name, parent, id) = try decodeEntry(&r)
            return .makeSymbolicLink(name: name, parent: parent, id: id, target: try r.string("link target"))
        case .readSymbolicLink: return .readSymbolicLink(try r.fileID("file"))
        case .makeNode:
            let (name, parent, id) = try decodeEntry(&r)
            return .makeNode(
                name: name, parent: parent, id: id, type: try r.enumeration(FileType.self, "file type"),
                permissions: try r.integer(UInt32.self, "permissions"), device: try r.integer(UInt64.self, "device number"))
        case .fileSystemStatistics: return .fileSystemStatistics
        case .extendedAttribute: return .extendedAttribute(name: try r.string("attribute name"), try r.fileID("file"))
        case .setExtendedAttribute:
            return .setExtendedAttribute(
                name: try r.string("attribute name"),
                value: try r.bytes("attribute value", byteCountMax: Limits.extendedAttributeValueByteCountMax),
                mode: try r.enumeration(ExtendedAttributeMode.self, "attribute mode"), try r.fileID("file"))
        case .extendedAttributeNames: return .extendedAttributeNames(try r.fileID("file"))
        case .removeExtendedAttribute: return .removeExtendedAttribute(name: try r.string("attribute name"), try r.fileID("file"))
        case .control: return .control(try r.controlRequest())
        case .grantLocalRead: return .grantLocalRead(try r.openFile("file"))
        case .lookupAndRead:
            return .lookupAndRead(
                name: try r.string("name"), parent: try r.fileID("parent"),
                flags: OpenFlags(rawValue: try r.integer(UInt32.self, "open flags")),
                count: try r.integer(UInt32.self, "count"))
        case .openAndRead:
            return .openAndRead(
                try r.fileID("file"), flags: OpenFlags(rawValue: try r.integer(UInt32.self, "open flags")),
                count: try r.integer(UInt32.self, "count"))
        }
    }

    private static func decodeEntry(_ r: inout WireReader) throws(WireError) -> (String, FileID, FileID) {
        (try r.string("name"), try r.fileID("parent"), try r.fileID("new file id"))
    }

    private static func decodeRange(_ r: inout WireReader) throws(WireError) -> (OpenFile, UInt64, UInt64) {
        (try r.openFile("file"), try r.integer(UInt64.self, "offset"), try r.integer(UInt64.self, "length"))
    }

    private static func decodeChanges(_ r: inout WireReader) throws(WireError) -> AttributeChanges {
        var changes = AttributeChanges()
        changes.permissions = try r.optional("permissions") { (r) throws(WireError) in try r.integer(UInt32.self, "mode") }
        changes.userID = try r.optional("user id") { (r) throws(WireError) in try r.integer(UInt32.self, "uid") }
        changes.groupID = try r.optional("group id") { (r) throws(WireError) in try r.integer(UInt32.self, "gid") }
        changes.size = try r.optional("size") { (r) throws(WireError) in try r.integer(UInt64.self, "size") }
        changes.accessTime = try r.optional("atime") { (r) throws(WireError) in try r.timeChange("atime") }
        changes.modificationTime = try r.optional("mtime") { (r) throws(WireError) in try r.timeChange("mtime") }
        return changes
    }
}
