import MortarCore
import NIOCore

/// The result of a successful request. Each request has exactly one reply shape; ``Request/perform(on:context:)``
/// and the protocol client agree on it through the accessors below.
public enum Reply: Sendable {
    case none
    case attributes(FileAttributes)
    case created(CreatedFile)
    case opened(OpenFile)
    case data(ByteBuffer)
    case number(UInt64)
    case lock(LockRequest?)
    case page(DirectoryPage)
    case text(String)
    case statistics(FileSystemStatistics)
    case bytes([UInt8])
    case names([String])
    case memberStatus(MemberStatus)
    case openedWithHead(OpenedFile)
    case found(FoundFile)
    case localReadGrant(LocalReadGrant)
    case profile(BrickProfile)
    case top(BrickTop)
    case clients(BrickClients)

    /// The reply's shape on the wire. Exhaustive: a new shape does not compile until it has its number.
    var tag: Tag {
        switch self {
        case .none: .none
        case .attributes: .attributes
        case .created: .created
        case .opened: .opened
        case .data: .data
        case .number: .number
        case .lock: .lock
        case .page: .page
        case .text: .text
        case .statistics: .statistics
        case .bytes: .bytes
        case .names: .names
        case .memberStatus: .memberStatus
        case .openedWithHead: .openedWithHead
        case .found: .found
        case .localReadGrant: .localReadGrant
        case .profile: .profile
        case .top: .top
        case .clients: .clients
        }
    }

    /// The number written first in a reply, one per shape. Pinned like ``Opcode``: never changed, never reused.
    enum Tag: UInt8, CaseIterable, Sendable {
        case none = 0
        case attributes = 1
        case created = 2
        case opened = 3
        case data = 4
        case number = 5
        case lock = 6
        case page = 7
        case text = 8
        case statistics = 9
        case bytes = 10
        case names = 11
        case memberStatus = 12
        case openedWithHead = 13
        case found = 14
        case localReadGrant = 15
        case profile = 16
        case top = 17
        case clients = 18
    }

    public func encode(into buffer: inout ByteBuffer) {
        if var trailer = encodeHead(into: &buffer) { buffer.writeBuffer(&trailer) }
    }

    /// Encodes everything but read data, which it returns to be sent after `buffer` without a copy.
    public func encodeHead(into buffer: inout ByteBuffer) -> ByteBuffer? {
        buffer.writeInteger(tag.rawValue)
        return encodeBody(into: &buffer)
    }

    /// Writes the reply's body; read data is returned instead, to follow without a copy.
    private func encodeBody(into buffer: inout ByteBuffer) -> ByteBuffer? {
        switch self {
        case .none: break
        case .attributes(let attributes): buffer.writeAttributes(attributes)
        case .created(let created):
            buffer.writeOpenFile(created.file)
            buffer.writeAttributes(created.attributes)
        case .opened(let file): buffer.writeOpenFile(file)
        case .data(let data):
            buffer.writeInteger(UInt32(data.readableBytes))
            return data
        case .number(let number): buffer.writeInteger(number)
        case .lock(let lock): buffer.writeOptional(lock) { $0.writeLockRequest($1) }
        case .page(let page): Self.encodePage(page, into: &buffer)
        case .text(let text): buffer.writeWireString(text)
        case .statistics(let statistics): Self.encodeStatistics(statistics, into: &buffer)
        case .bytes(let bytes): buffer.writeWireBytes(bytes)
        case .names(let names):
            buffer.writeInteger(UInt32(names.count))
            for name in names { buffer.writeWireString(name) }
        case .memberStatus(let status): buffer.writeMemberStatus(status)
        case .openedWithHead(let opened):
            buffer.writeOpenFile(opened.file)
            buffer.writeInteger(UInt32(opened.head.readableBytes))
            return opened.head
        case .found(let found):
            buffer.writeAttributes(found.attributes)
            guard let opened = found.opened else {
                buffer.writeBool(false)
                break
            }
            buffer.writeBool(true)
            buffer.writeOpenFile(opened.file)
            buffer.writeInteger(UInt32(opened.head.readableBytes))
            return opened.head
        case .localReadGrant(let grant):
            buffer.writeInteger(UInt64(truncatingIfNeeded: grant.token >> 64))
            buffer.writeInteger(UInt64(truncatingIfNeeded: grant.token))
        case .profile(let profile): buffer.writeBrickProfile(profile)
        case .top(let top): buffer.writeBrickTop(top)
        case .clients(let clients): buffer.writeBrickClients(clients)
        }
        return nil
    }

    private static func encodePage(_ page: DirectoryPage, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt32(page.entries.count))
        for entry in page.entries {
            buffer.writeWireString(entry.name)
            buffer.writeAttributes(entry.attributes)
        }
        buffer.writeOptional(page.nextCookie) { $0.writeInteger($1) }
    }

    private static func encodeStatistics(_ s: FileSystemStatistics, into buffer: inout ByteBuffer) {
        for value in [
            s.blockSize, s.fragmentSize, s.blocks, s.blocksFree, s.blocksAvailable, s.files, s.filesFree,
            s.filesAvailable, s.fileSystemID, s.flags, s.nameLengthMax,
        ] {
            buffer.writeInteger(value)
        }
    }

    public static func decode(_ payload: ByteBuffer) throws(WireError) -> Reply {
        var r = WireReader(payload)
        let reply: Reply
        let number = try r.integer(UInt8.self, "reply tag")
        guard let tag = Tag(rawValue: number) else { throw WireError("unknown reply tag \(number)") }
        switch tag {
        case .none: reply = .none
        case .attributes: reply = .attributes(try r.attributes())
        case .created: reply = .created(CreatedFile(file: try r.openFile("file"), attributes: try r.attributes()))
        case .opened: reply = .opened(try r.openFile("file"))
        case .data: reply = .data(try r.slice("read data", byteCountMax: Limits.ioByteCountMax))
        case .number: reply = .number(try r.integer(UInt64.self, "number"))
        case .lock: reply = .lock(try r.optional("lock") { (r) throws(WireError) in try r.lockRequest() })
        case .page: reply = .page(try decodePage(&r))
        case .text: reply = .text(try r.string("text"))
        case .statistics: reply = .statistics(try decodeStatistics(&r))
        case .bytes: reply = .bytes(try r.bytes("bytes", byteCountMax: Limits.extendedAttributeValueByteCountMax))
        case .names: reply = .names(try decodeNames(&r))
        case .memberStatus: reply = .memberStatus(try r.memberStatus())
        case .openedWithHead:
            let file = try r.openFile("file")
            reply = .openedWithHead(
                OpenedFile(file: file, head: try r.slice("file head", byteCountMax: Limits.quickReadByteCountMax)))
        case .found:
            let attributes = try r.attributes()
            var opened: OpenedFile?
            if try r.bool("opened") {
                let file = try r.openFile("file")
                opened = OpenedFile(file: file, head: try r.slice("file head", byteCountMax: Limits.quickReadByteCountMax))
            }
            reply = .found(FoundFile(attributes: attributes, opened: opened))
        case .localReadGrant:
            let high = try r.integer(UInt64.self, "grant token")
            let low = try r.integer(UInt64.self, "grant token")
            reply = .localReadGrant(LocalReadGrant(token: UInt128(high) << 64 | UInt128(low)))
        case .profile: reply = .profile(try r.brickProfile())
        case .top: reply = .top(try r.brickTop())
        case .clients: reply = .clients(try r.brickClients())
        }
        try r.expectEnd("reply")
        return reply
    }

    private static func decodePage(_ r: inout WireReader) throws(WireError) -> DirectoryPage {
        let count = Int(try r.integer(UInt32.self, "entry count"))
        guard count <= Limits.directoryPageEntriesMax else {
            throw WireError("directory page of \(count) entries exceeds \(Limits.directoryPageEntriesMax)")
        }
        var entries: [DirectoryEntry] = []
        entries.reserveCapacity(count)
        for _ in 0..<count {
            let name = try r.string("entry name", byteCountMax: Limits.nameByteCountMax)
            entries.append(DirectoryEntry(name: name, attributes: try r.attributes()))
        }
        let next = try r.optional("next cookie") { (r) throws(WireError) in try r.integer(UInt64.self, "cookie") }
        return DirectoryPage(entries: entries, nextCookie: next)
    }

    private static func decodeStatistics(_ r: inout WireReader) throws(WireError) -> FileSystemStatistics {
        var values: [UInt64] = []
        for _ in 0..<11 { values.append(try r.integer(UInt64.self, "statistics")) }
        return FileSystemStatistics(
            blockSize: values[0], fragmentSize: values[1], blocks: values[2], blocksFree: values[3],
            blocksAvailable: values[4], files: values[5], filesFree: values[6], filesAvailable: values[7],
            fileSystemID: values[8], flags: values[9], nameLengthMax: values[10])
    }

    private static func decodeNames(_ r: inout WireReader) throws(WireError) -> [String] {
        let count = Int(try r.integer(UInt32.self, "name count"))
        guard count <= Limits.extendedAttributeNamesByteCountMax else { throw WireError("too many names: \(count)") }
        var names: [String] = []
        for _ in 0..<count { names.append(try r.string("name", byteCountMax: Limits.nameByteCountMax)) }
        return names
    }
}

/// Errors travel as errno plus message.
public enum ErrorReply {
    public static func encode(_ error: FileSystemError, into buffer: inout ByteBuffer) {
        buffer.writeInteger(error.code.rawValue)
        buffer.writeWireString(String(error.message.utf8.prefix(4096)) ?? "")
    }

    public static func decode(_ payload: ByteBuffer) throws(WireError) -> FileSystemError {
        var r = WireReader(payload)
        let code = try r.integer(Int32.self, "errno")
        let message = try r.string("error message")
        return FileSystemError(FileSystemError.Code(rawValue: code), message)
    }
}
