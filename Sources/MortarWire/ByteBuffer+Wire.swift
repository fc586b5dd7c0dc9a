import MortarCore
import NIOCore

/// Primitive encodings shared by every message. Integers are big-endian; strings and byte arrays carry a UInt32
/// length that the reader checks against a bound before it allocates anything.
extension ByteBuffer {
    mutating func writeBool(_ value: Bool) { writeInteger(value ? 1 : 0 as UInt8) }

    mutating func writeFileID(_ id: FileID) {
        writeInteger(id.high)
        writeInteger(id.low)
    }

    mutating func writeWireString(_ text: String) {
        let lengthIndex = writerIndex
        writeInteger(UInt32(0))
        let count = writeString(text)
        setInteger(UInt32(count), at: lengthIndex)
    }

    mutating func writeWireBytes(_ bytes: [UInt8]) {
        writeInteger(UInt32(bytes.count))
        writeBytes(bytes)
    }

    mutating func writeOpenFile(_ file: OpenFile) {
        writeFileID(file.id)
        writeInteger(file.handle)
    }

    mutating func writeTimestamp(_ time: Timestamp) {
        writeInteger(time.seconds)
        writeInteger(time.nanoseconds)
    }

    mutating func writeAttributes(_ attributes: FileAttributes) {
        writeFileID(attributes.id)
        writeInteger(attributes.type.rawValue)
        writeInteger(attributes.permissions)
        writeInteger(attributes.linkCount)
        writeInteger(attributes.userID)
        writeInteger(attributes.groupID)
        writeInteger(attributes.size)
        writeInteger(attributes.blocks)
        writeInteger(attributes.blockSize)
        writeInteger(attributes.deviceNumber)
        writeTimestamp(attributes.accessTime)
        writeTimestamp(attributes.modificationTime)
        writeTimestamp(attributes.changeTime)
    }

    mutating func writeOptional<T>(_ value: T?, _ write: (inout ByteBuffer, T) -> Void) {
        guard let value else { return writeBool(false) }
        writeBool(true)
        write(&self, value)
    }

    mutating func writeTimeChange(_ change: TimeChange) {
        switch change {
        case .now: writeInteger(0 as UInt8)
        case .set(let time):
            writeInteger(1 as UInt8)
            writeTimestamp(time)
        }
    }

    mutating func writeLockRequest(_ lock: LockRequest) {
        writeInteger(lock.kind.rawValue)
        writeInteger(lock.start)
        writeInteger(lock.length)
        writeInteger(lock.owner)
        writeInteger(lock.processID)
    }
}

/// Reads the primitives back, throwing ``WireError`` on truncated or invalid input instead of trapping.
struct WireReader {
    var buffer: ByteBuffer

    init(_ buffer: ByteBuffer) { self.buffer = buffer }

    mutating func integer<T: FixedWidthInteger>(_: T.Type = T.self, _ what: String) throws(WireError) -> T {
        guard let value = buffer.readInteger(as: T.self) else { throw WireError("truncated message reading \(what)") }
        return value
    }

    mutating func bool(_ what: String) throws(WireError) -> Bool {
        switch try integer(UInt8.self, what) {
        case 0: return false
        case 1: return true
        case let other: throw WireError("invalid boolean \(other) for \(what)")
        }
    }

    mutating func fileID(_ what: String) throws(WireError) -> FileID {
        FileID(high: try integer(UInt64.self, what), low: try integer(UInt64.self, what))
    }

    mutating func string(_ what: String, byteCountMax: Int = Limits.pathByteCountMax) throws(WireError) -> String {
        let count = Int(try integer(UInt32.self, what))
        guard count <= byteCountMax else { throw WireError("\(what) of \(count) bytes exceeds \(byteCountMax)") }
        guard let text = buffer.readString(length: count) else { throw WireError("truncated message reading \(what)") }
        return text
    }

    mutating func bytes(_ what: String, byteCountMax: Int) throws(WireError) -> [UInt8] {
        let count = Int(try integer(UInt32.self, what))
        guard count <= byteCountMax else { throw WireError("\(what) of \(count) bytes exceeds \(byteCountMax)") }
        guard let bytes = buffer.readBytes(length: count) else { throw WireError("truncated message reading \(what)") }
        return bytes
    }

    mutating func slice(_ what: String, byteCountMax: Int) throws(WireError) -> ByteBuffer {
        let count = Int(try integer(UInt32.self, what))
        guard count <= byteCountMax else { throw WireError("\(what) of \(count) bytes exceeds \(byteCountMax)") }
        guard let slice = buffer.readSlice(length: count) else { throw WireError("truncated message reading \(what)") }
        return slice
    }

    mutating func openFile(_ what: String) throws(WireError) -> OpenFile {
        OpenFile(id: try fileID(what), handle: try integer(UInt64.self, what))
    }

    mutating func timestamp(_ what: String) throws(WireError) -> Timestamp {
        let seconds = try integer(Int64.self, what)
        let nanoseconds = try integer(UInt32.self, what)
        guard nanoseconds < 1_000_000_000 else { throw WireError("nanoseconds \(nanoseconds) out of range in \(what)") }
        return Timestamp(seconds: seconds, nanoseconds: nanoseconds)
    }

    mutating func enumeration<T: RawRepresentable>(_: T.Type, _ what: String) throws(WireError) -> T
    where T.RawValue == UInt8 {
        let raw = try integer(UInt8.self, what)
        guard let value = T(rawValue: raw) else { throw WireError("invalid \(what) \(raw)") }
        return value
    }

    mutating func attributes() throws(WireError) -> FileAttributes {
        let id = try fileID("attributes.id")
        let type = try enumeration(FileType.self, "file type")
        var attributes = FileAttributes(id: id, type: type, permissions: try integer(UInt32.self, "permissions"))
        attributes.linkCount = try integer(UInt32.self, "link count")
        attributes.userID = try integer(UInt32.self, "user id")
        attributes.groupID = try integer(UInt32.self, "group id")
        attributes.size = try integer(UInt64.self, "size")
        attributes.blocks = try integer(UInt64.self, "blocks")
        attributes.blockSize = try integer(UInt32.self, "block size")
        attributes.deviceNumber = try integer(UInt64.self, "device number")
        attributes.accessTime = try timestamp("access time")
        attributes.modificationTime = try timestamp("modification time")
        attributes.changeTime = try timestamp("change time")
        return attributes
    }

    mutating func optional<T>(_ what: String, _ read: (inout WireReader) throws(WireError) -> T) throws(WireError)
        -> T?
    {
        guard try bool(what) else { return nil }
        return try read(&self)
    }

    mutating func timeChange(_ what: String) throws(WireError) -> TimeChange {
        switch try integer(UInt8.self, what) {
        case 0: return .now
        case 1: return .set(try timestamp(what))
        case let other: throw WireError("invalid time change \(other) for \(what)")
        }
    }

    mutating func lockRequest() throws(WireError) -> LockRequest {
        let kind = try enumeration(LockRequest.Kind.self, "lock kind")
        return LockRequest(
            kind: kind, start: try integer(UInt64.self, "lock start"), length: try integer(UInt64.self, "lock length"),
            owner: try integer(UInt64.self, "lock owner"), processID: try integer(Int32.self, "lock pid"))
    }

    /// Throws unless every byte was consumed: trailing garbage means the peer and we disagree on the format.
    func expectEnd(_ what: String) throws(WireError) {
        guard buffer.readableBytes == 0 else {
            throw WireError("\(buffer.readableBytes) unexpected trailing bytes after \(what)")
        }
    }
}
