import Foundation
import MortarCore

/// Where one etcd member answers its clients: `http://HOST:PORT` or `https://HOST:PORT`, as etcd's
/// `--advertise-client-urls` names it.
public struct EtcdEndpoint: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    /// Whether the member speaks TLS (`https://`): the client then presents its host certificate and accepts only
    /// a member whose certificate is a host's of the same CA.
    public var secure: Bool

    public init(host: String, port: Int, secure: Bool = false) {
        self.host = host
        self.port = port
        self.secure = secure
    }

    /// Parses `http://HOST:PORT` or `https://HOST:PORT` (an IPv6 address in brackets).
    public init(parsing url: String) throws(FileSystemError) {
        let secure = url.hasPrefix("https://")
        let scheme = secure ? "https://" : "http://"
        guard url.hasPrefix(scheme) else {
            throw FileSystemError.invalidArgument("etcd URL '\(url)' is not of the form http://HOST:PORT or https://HOST:PORT")
        }
        var rest = url.dropFirst(scheme.count)
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        let host: Substring
        let portText: Substring
        if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            guard after.hasPrefix(":") else {
                throw FileSystemError.invalidArgument("etcd URL '\(url)' has no port")
            }
            portText = after.dropFirst()
        } else {
            let parts = rest.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2 else { throw FileSystemError.invalidArgument("etcd URL '\(url)' has no port") }
            host = parts[0]
            portText = parts[1]
        }
        guard !host.isEmpty, !host.contains("/") else {
            throw FileSystemError.invalidArgument("etcd URL '\(url)' has no host")
        }
        guard let port = Int(portText), (1...Limits.portNumberMax).contains(port) else {
            throw FileSystemError.invalidArgument("etcd URL '\(url)' has an invalid port")
        }
        self.init(host: String(host), port: port, secure: secure)
    }

    /// Parses a comma-separated list of URLs (`--etcd`); at least one, at most `Limits.etcdEndpointsMax`.
    public static func parseList(_ text: String) throws(FileSystemError) -> [EtcdEndpoint] {
        let urls = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !urls.isEmpty else { throw FileSystemError.invalidArgument("no etcd URL given") }
        guard urls.count <= Limits.etcdEndpointsMax else {
            throw FileSystemError.invalidArgument(
                "\(urls.count) etcd URLs given; at most \(Limits.etcdEndpointsMax) are used")
        }
        var endpoints: [EtcdEndpoint] = []
        for url in urls { endpoints.append(try EtcdEndpoint(parsing: url)) }
        // One cluster's members are reached one way: a list that mixes the two is a typo, and the plain one would
        // carry the catalog in the clear.
        guard Set(endpoints.map(\.secure)).count == 1 else {
            throw FileSystemError.invalidArgument("etcd URLs mix http:// and https://; give every member the same scheme")
        }
        return endpoints
    }

    public var description: String {
        let scheme = secure ? "https" : "http"
        return host.contains(":") ? "\(scheme)://[\(host)]:\(port)" : "\(scheme)://\(host):\(port)"
    }
}

/// One key as etcd stores it. Revisions are etcd's: `createRevision` is 0 for a key that does not exist (in
/// comparisons), `modRevision` is the revision of its last change.
public struct EtcdKeyValue: Sendable, Hashable {
    public var key: String
    public var value: [UInt8]
    public var createRevision: Int64
    public var modRevision: Int64
    public var version: Int64
    /// The lease the key lives under; 0 for none.
    public var lease: Int64

    public init(
        key: String, value: [UInt8], createRevision: Int64, modRevision: Int64, version: Int64, lease: Int64 = 0
    ) {
        self.key = key
        self.value = value
        self.createRevision = createRevision
        self.modRevision = modRevision
        self.version = version
        self.lease = lease
    }
}

/// A condition of a transaction, checked against the store as it is when the transaction runs.
public enum EtcdCompare: Sendable, Hashable {
    /// The key's creation revision equals `revision`; 0 means the key does not exist.
    case createRevision(key: String, equals: Int64)
    /// The key's last change was at `revision`: nobody changed it since it was read.
    case modRevision(key: String, equals: Int64)
    /// The key holds exactly `value`.
    case value(key: String, equals: [UInt8])
}

/// One operation of a transaction branch.
public enum EtcdOperation: Sendable, Hashable {
    /// Writes `value` under `key`, bound to `lease` (deleted with it) when not nil.
    case put(key: String, value: [UInt8], lease: Int64? = nil)
    /// Reads `key`.
    case get(key: String)
    /// Deletes `key` (nothing happens when it does not exist).
    case delete(key: String)

    /// Whether the operation only reads.
    public var isRead: Bool {
        if case .get = self { return true }
        return false
    }
}

/// What a transaction did: which branch ran, the store's revision after it, and for every operation of that
/// branch the keys it read (empty for puts, deletes and reads of absent keys).
public struct EtcdTransactionResult: Sendable, Hashable {
    public var succeeded: Bool
    public var revision: Int64
    public var reads: [[EtcdKeyValue]]

    public init(succeeded: Bool, revision: Int64, reads: [[EtcdKeyValue]]) {
        self.succeeded = succeeded
        self.revision = revision
        self.reads = reads
    }
}

/// A lease granted by etcd: keys put under it are deleted when it is not kept alive for `ttlSeconds`.
public struct EtcdLease: Sendable, Hashable {
    public var id: Int64
    public var ttlSeconds: Int64

    public init(id: Int64, ttlSeconds: Int64) {
        self.id = id
        self.ttlSeconds = ttlSeconds
    }
}
