import Foundation
import MortarCore

/// The JSON that etcd's v3 gateway speaks: protobuf messages in their JSON mapping, so keys and values are
/// base64, 64-bit integers are strings, and fields at their default (false, 0, empty) are left out. Every reply
/// is checked here into the typed values of EtcdTypes.swift: a malformed answer is EPROTO naming etcd, never a
/// crash.
enum EtcdGateway {
    // MARK: Requests

    struct RangeRequest: Encodable {
        var key: String
    }

    struct PutRequest: Encodable {
        var key: String
        var value: String
        var lease: String?
    }

    struct DeleteRequest: Encodable {
        var key: String
    }

    struct Compare: Encodable {
        var key: String
        var target: String
        var result = "EQUAL"
        var create_revision: String?
        var mod_revision: String?
        var value: String?
    }

    struct RequestOp: Encodable {
        var request_put: PutRequest?
        var request_range: RangeRequest?
        var request_delete_range: DeleteRequest?
    }

    struct TxnRequest: Encodable {
        var compare: [Compare]
        var success: [RequestOp]
        var failure: [RequestOp]
    }

    struct LeaseGrantRequest: Encodable {
        var TTL: Int64
    }

    struct LeaseIDRequest: Encodable {
        var ID: String
    }

    static func base64(_ text: String) -> String {
        Data(text.utf8).base64EncodedString()
    }

    static func base64(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
    }

    static func compare(_ condition: EtcdCompare) -> Compare {
        switch condition {
        case .createRevision(let key, let revision):
            Compare(key: base64(key), target: "CREATE", create_revision: String(revision))
        case .modRevision(let key, let revision):
            Compare(key: base64(key), target: "MOD", mod_revision: String(revision))
        case .value(let key, let value):
            Compare(key: base64(key), target: "VALUE", value: base64(value))
        }
    }

    static func operation(_ operation: EtcdOperation) -> RequestOp {
        switch operation {
        case .put(let key, let value, let lease):
            RequestOp(request_put: PutRequest(key: base64(key), value: base64(value), lease: lease.map(String.init)))
        case .get(let key):
            RequestOp(request_range: RangeRequest(key: base64(key)))
        case .delete(let key):
            RequestOp(request_delete_range: DeleteRequest(key: base64(key)))
        }
    }

    // MARK: Replies

    struct Header: Decodable {
        var revision: String?
    }

    struct KeyValue: Decodable {
        var key: String?
        var value: String?
        var create_revision: String?
        var mod_revision: String?
        var version: String?
        var lease: String?
    }

    struct RangeReply: Decodable {
        var header: Header?
        var kvs: [KeyValue]?
    }

    struct WriteReply: Decodable {
        var header: Header?
    }

    struct ResponseOp: Decodable {
        var response_range: RangeReply?
        var response_put: WriteReply?
        var response_delete_range: WriteReply?
    }

    struct TxnReply: Decodable {
        var header: Header?
        var succeeded: Bool?
        var responses: [ResponseOp]?
    }

    struct LeaseGrantReply: Decodable {
        var ID: String?
        var TTL: String?
        var error: String?
    }

    struct KeepAliveReply: Decodable {
        struct Result: Decodable {
            var ID: String?
            var TTL: String?
        }
        var result: Result?
    }

    /// What etcd answers instead of a reply: its error text and gRPC status code.
    struct ErrorReply: Decodable {
        var error: String?
        var message: String?
        var code: Int?
    }

    /// gRPC status codes etcd uses that mean "this member cannot serve now, another may": no leader, not ready,
    /// shutting down.
    static let unavailableCodes: Set<Int> = [14, 4]

    static func decode<Reply: Decodable>(_ type: Reply.Type, _ bytes: [UInt8], request: String) throws(FileSystemError)
        -> Reply
    {
        do {
            return try JSONDecoder().decode(type, from: Data(bytes))
        } catch {
            throw FileSystemError.protocolError("etcd answered \(request) with malformed JSON: \(error)")
        }
    }

    static func integer(_ text: String?, _ field: String, request: String) throws(FileSystemError) -> Int64 {
        guard let text else { return 0 }
        guard let value = Int64(text) else {
            throw FileSystemError.protocolError("etcd answered \(request) with \(field) '\(text.prefix(40))', not an integer")
        }
        return value
    }

    static func bytes(_ text: String?, _ field: String, request: String) throws(FileSystemError) -> [UInt8] {
        guard let text else { return [] }
        guard let data = Data(base64Encoded: text) else {
            throw FileSystemError.protocolError("etcd answered \(request) with \(field) that is not base64")
        }
        return [UInt8](data)
    }

    static func keyValue(_ raw: KeyValue, request: String) throws(FileSystemError) -> EtcdKeyValue {
        let keyBytes = try bytes(raw.key, "a key", request: request)
        guard let key = String(validating: keyBytes, as: UTF8.self) else {
            throw FileSystemError.protocolError("etcd answered \(request) with a key that is not UTF-8")
        }
        return EtcdKeyValue(
            key: key, value: try bytes(raw.value, "a value", request: request),
            createRevision: try integer(raw.create_revision, "create_revision", request: request),
            modRevision: try integer(raw.mod_revision, "mod_revision", request: request),
            version: try integer(raw.version, "version", request: request),
            lease: try integer(raw.lease, "lease", request: request))
    }

    static func keyValues(_ raw: RangeReply?, request: String) throws(FileSystemError) -> [EtcdKeyValue] {
        var values: [EtcdKeyValue] = []
        for value in raw?.kvs ?? [] { values.append(try keyValue(value, request: request)) }
        return values
    }

    static func revision(_ header: Header?, request: String) throws(FileSystemError) -> Int64 {
        try integer(header?.revision, "revision", request: request)
    }
}
