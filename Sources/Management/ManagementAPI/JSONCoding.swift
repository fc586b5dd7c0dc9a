#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MortarCore
import NIOCore

/// JSON encoding and decoding of management messages, with errors that say which message was malformed.
public enum ManagementJSON {
    /// Encodes `value` as compact JSON with sorted keys, so equal values give equal bytes.
    public static func encode(_ value: some Encodable) throws(FileSystemError) -> ByteBuffer {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        do {
            return ByteBuffer(bytes: try encoder.encode(value))
        } catch {
            throw FileSystemError.invalidArgument("cannot encode \(type(of: value)) as JSON: \(error)")
        }
    }

    /// Decodes a `Value` from `buffer`; a malformed body is a protocol error naming the expected type.
    public static func decode<Value: Decodable>(
        _ type: Value.Type, from buffer: ByteBuffer
    ) throws(FileSystemError) -> Value {
        do {
            return try JSONDecoder().decode(Value.self, from: Data(buffer.readableBytesView))
        } catch {
            throw FileSystemError.protocolError("malformed \(Value.self) JSON: \(error)")
        }
    }
}
