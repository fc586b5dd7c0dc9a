// What a brick tells `mortar volume profile`, `volume top` and `volume status VOL clients` (through the daemon's
// ``ControlRequest/profile(resetInterval:)``, ``ControlRequest/top(_:count:)`` and ``ControlRequest/clients``).
// Plain values: the brick's profiler fills them, the wire carries them with every count and string bounded, the
// daemon gathers them per brick, the CLI prints them.

/// One operation's calls over a stretch of time, as a brick's profiler counted them.
public struct OperationProfile: Sendable, Hashable, Codable {
    /// The operation's name as the wire names it ("read", "lookup").
    public var operation: String
    public var calls: UInt64
    /// Calls that failed (any errno).
    public var errors: UInt64
    public var totalNanoseconds: UInt64
    public var minNanoseconds: UInt64
    public var maxNanoseconds: UInt64
    /// The 99th percentile, to the upper bound of its power-of-two bucket (so at most twice the true value, never
    /// below it) and never above ``maxNanoseconds``.
    public var p99Nanoseconds: UInt64
    public var bytesRead: UInt64
    public var bytesWritten: UInt64

    public init(
        operation: String, calls: UInt64 = 0, errors: UInt64 = 0, totalNanoseconds: UInt64 = 0,
        minNanoseconds: UInt64 = 0, maxNanoseconds: UInt64 = 0, p99Nanoseconds: UInt64 = 0, bytesRead: UInt64 = 0,
        bytesWritten: UInt64 = 0
    ) {
        self.operation = operation
        self.calls = calls
        self.errors = errors
        self.totalNanoseconds = totalNanoseconds
        self.minNanoseconds = minNanoseconds
        self.maxNanoseconds = maxNanoseconds
        self.p99Nanoseconds = p99Nanoseconds
        self.bytesRead = bytesRead
        self.bytesWritten = bytesWritten
    }

    /// The mean latency; 0 before the first call.
    public var averageNanoseconds: UInt64 { calls == 0 ? 0 : totalNanoseconds / calls }
}

/// A stretch of a brick's profile: since profiling started, or since the last `info`.
public struct ProfileInterval: Sendable, Hashable, Codable {
    public var nanoseconds: UInt64
    /// In the wire's opcode order, each operation called at least once.
    public var operations: [OperationProfile]

    public init(nanoseconds: UInt64 = 0, operations: [OperationProfile] = []) {
        self.nanoseconds = nanoseconds
        self.operations = operations
    }

    public var bytesRead: UInt64 { operations.reduce(0) { $0 &+ $1.bytesRead } }
    public var bytesWritten: UInt64 { operations.reduce(0) { $0 &+ $1.bytesWritten } }
}

/// One brick's answer to a profile request.
public struct BrickProfile: Sendable, Hashable, Codable {
    /// Whether the brick is profiling (the volume's `diagnostics.profile`); both intervals are empty when not.
    public var profiling: Bool
    public var cumulative: ProfileInterval
    public var interval: ProfileInterval

    public init(profiling: Bool, cumulative: ProfileInterval = ProfileInterval(), interval: ProfileInterval = ProfileInterval()) {
        self.profiling = profiling
        self.cumulative = cumulative
        self.interval = interval
    }
}

/// What `volume top` ranks files by.
public enum TopKind: UInt8, CaseIterable, Sendable, Hashable, Codable {
    /// Opens (and creates), by count.
    case open = 1
    /// Reads, by bytes read.
    case read = 2
    /// Writes, by bytes written.
    case write = 3
    /// Directory listings begun (a read of a directory from its start), by count.
    case opendir = 4

    /// The name the CLI takes and prints.
    public var name: String {
        switch self {
        case .open: "open"
        case .read: "read"
        case .write: "write"
        case .opendir: "opendir"
        }
    }

    public init?(name: String) {
        guard let kind = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = kind
    }
}

/// One of a brick's hottest files.
public struct TopEntry: Sendable, Hashable, Codable {
    public var id: FileID
    /// The file's path in the volume when the brick knows it (it learns names from lookups and creates while
    /// profiling); nil otherwise.
    public var path: String?
    public var count: UInt64
    public var bytes: UInt64

    public init(id: FileID, path: String?, count: UInt64, bytes: UInt64) {
        self.id = id
        self.path = path
        self.count = count
        self.bytes = bytes
    }

    private enum CodingKeys: String, CodingKey {
        case id, path, count, bytes
    }

    /// The FileID as the CLI prints it.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id.description, forKey: .id)
        try container.encodeIfPresent(path, forKey: .path)
        try container.encode(count, forKey: .count)
        try container.encode(bytes, forKey: .bytes)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let text = try container.decode(String.self, forKey: .id)
        guard let id = FileID(text) else {
            throw DecodingError.dataCorruptedError(forKey: .id, in: container, debugDescription: "not a FileID: \(text)")
        }
        self.id = id
        path = try container.decodeIfPresent(String.self, forKey: .path)
        count = try container.decode(UInt64.self, forKey: .count)
        bytes = try container.decode(UInt64.self, forKey: .bytes)
    }
}

/// One brick's answer to a top request.
public struct BrickTop: Sendable, Hashable, Codable {
    public var profiling: Bool
    /// Hottest first.
    public var entries: [TopEntry]

    public init(profiling: Bool, entries: [TopEntry]) {
        self.profiling = profiling
        self.entries = entries
    }
}

/// A connection a brick is serving.
public struct ConnectedClient: Sendable, Hashable, Codable {
    /// "ADDRESS:PORT", or "local" for the brick's Unix socket.
    public var address: String
    /// The name the client gave in its hello ("mortar-fuse", "gfapi/fio").
    public var name: String
    /// The certificate's name, with TLS.
    public var certificate: String?
    public var openFiles: UInt64
    public var requests: UInt64
    public var bytesRead: UInt64
    public var bytesWritten: UInt64
    public var connectedSeconds: UInt64

    public init(
        address: String, name: String, certificate: String?, openFiles: UInt64, requests: UInt64, bytesRead: UInt64,
        bytesWritten: UInt64, connectedSeconds: UInt64
    ) {
        self.address = address
        self.name = name
        self.certificate = certificate
        self.openFiles = openFiles
        self.requests = requests
        self.bytesRead = bytesRead
        self.bytesWritten = bytesWritten
        self.connectedSeconds = connectedSeconds
    }
}

/// A brick's connections: how many there are, and the busiest ``Limits/brickClientsReportedMax`` of them.
public struct BrickClients: Sendable, Hashable, Codable {
    public var total: Int
    /// Most requests first.
    public var clients: [ConnectedClient]

    public init(total: Int, clients: [ConnectedClient]) {
        self.total = total
        self.clients = clients
    }
}
