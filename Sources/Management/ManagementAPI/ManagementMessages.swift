import MortarCore
import MortarMembership

/// The management API's messages, JSON on the wire. The daemon, the CLI and the client library share them; they
/// mirror the catalog without depending on it, so a client never links the manager's state machine. Replica set
/// views are the membership core's own values: clients and bricks route and check by them.
///
/// Fields added after the first release are optional or decoded with a default, so a client and a daemon of
/// different builds still understand each other.

/// `GET /v1/hello`: who a daemon is.
public struct HelloResponse: Codable, Sendable, Hashable {
    /// A UUID string that stays the same across restarts of the daemon with the same state directory.
    public var daemonID: String
    /// The daemon's software and API version.
    public var version: String
    /// The host name the daemon believes it is reachable as.
    public var host: String
    /// Whether this daemon holds the manager role now (its failure detector decides replica sets' membership);
    /// nil from a daemon that predates the role.
    public var managerRole: Bool?
    /// When the daemon's host certificate and its CA stop being valid (seconds since 1970), for `mortar health`;
    /// nil from a daemon without TLS or that predates them.
    public var certificateExpires: Int64?
    public var authorityExpires: Int64?

    public init(
        daemonID: String, version: String, host: String, managerRole: Bool? = nil, certificateExpires: Int64? = nil,
        authorityExpires: Int64? = nil
    ) {
        self.daemonID = daemonID
        self.version = version
        self.host = host
        self.managerRole = managerRole
        self.certificateExpires = certificateExpires
        self.authorityExpires = authorityExpires
    }
}

/// `POST /v1/peers`: probe a host's daemon and add it to the cluster.
public struct PeerProbeRequest: Codable, Sendable, Hashable {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        host = try container.decode(String.self, forKey: .host)
        port = try container.decode(Int.self, forKey: .port, within: 0...Limits.portNumberMax)
    }
}

/// One peer, as `GET /v1/peers` lists it.
public struct PeerInfo: Codable, Sendable, Hashable {
    public var id: String
    public var host: String
    public var port: Int
    /// `connected` or `disconnected`, as last observed.
    public var state: String

    public init(id: String, host: String, port: Int, state: String) {
        self.id = id
        self.host = host
        self.port = port
        self.state = state
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        host = try container.decode(String.self, forKey: .host)
        port = try container.decode(Int.self, forKey: .port, within: 0...Limits.portNumberMax)
        state = try container.decode(String.self, forKey: .state)
    }
}

/// `POST /v1/volumes`: create a volume over bricks given as `HOST:/PATH`.
public struct VolumeCreateRequest: Codable, Sendable, Hashable {
    public var name: String
    public var bricks: [String]
    /// Members of each replica set (consecutive bricks); nil, as older clients send, means 1: not replicated.
    public var replicaCount: Int?
    /// In-sync members each replica set needs to accept changes; nil means a majority.
    public var minInSync: Int?
    /// Create missing brick directories instead of refusing them, and accept two members of one replica set on
    /// one host.
    public var force: Bool

    public init(name: String, bricks: [String], replicaCount: Int? = nil, minInSync: Int? = nil, force: Bool) {
        self.name = name
        self.bricks = bricks
        self.replicaCount = replicaCount
        self.minInSync = minInSync
        self.force = force
    }
}

/// `POST /v1/volumes/NAME/replace-brick`: put a new, empty brick in the place of one of a replicated volume's.
public struct VolumeReplaceBrickRequest: Codable, Sendable, Hashable {
    /// The brick to replace, as `HOST:/PATH`.
    public var oldBrick: String
    /// Its replacement, as `HOST:/PATH`.
    public var newBrick: String
    /// Create a missing brick directory, and accept two members of one replica set on one host.
    public var force: Bool

    public init(oldBrick: String, newBrick: String, force: Bool) {
        self.oldBrick = oldBrick
        self.newBrick = newBrick
        self.force = force
    }
}

/// `POST /v1/volumes/NAME/add-brick`: add bricks (whole replica sets to a replicated volume) after the others.
public struct VolumeAddBrickRequest: Codable, Sendable, Hashable {
    /// The new bricks, as `HOST:/PATH`, in order: consecutive runs of the replica count form the new sets.
    public var bricks: [String]
    /// Create missing brick directories, and accept two members of one new replica set on one host.
    public var force: Bool

    public init(bricks: [String], force: Bool) {
        self.bricks = bricks
        self.force = force
    }
}

/// A volume's configuration, as `volume info` shows it.
public struct VolumeInfo: Codable, Sendable, Hashable {
    public var name: String
    public var id: String
    /// `created`, `started` or `stopped`.
    public var state: String
    public var bricks: [BrickInfo]
    /// Members of each replica set; 1 for a volume that is not replicated.
    public var replicaCount: Int
    /// In-sync members each replica set needs to accept changes; nil for a volume that is not replicated.
    public var minInSync: Int?
    /// The distribute children (bricks, or replica sets) of each generation of the volume's layout, oldest first;
    /// nil for a volume that never grew.
    public var layoutChildCounts: [Int]?

    public init(
        name: String, id: String, state: String, bricks: [BrickInfo], replicaCount: Int = 1, minInSync: Int? = nil,
        layoutChildCounts: [Int]? = nil
    ) {
        self.name = name
        self.id = id
        self.state = state
        self.bricks = bricks
        self.replicaCount = replicaCount
        self.minInSync = minInSync
        self.layoutChildCounts = layoutChildCounts
    }

    /// An older daemon sends no replication fields: its volumes are not replicated.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        id = try container.decode(String.self, forKey: .id)
        state = try container.decode(String.self, forKey: .state)
        bricks = try container.decode([BrickInfo].self, forKey: .bricks)
        replicaCount = try container.decodeIfPresent(Int.self, forKey: .replicaCount, within: 1...Limits.replicaCountMax)
            ?? 1
        minInSync = try container.decodeIfPresent(Int.self, forKey: .minInSync, within: 1...replicaCount)
        layoutChildCounts = try container.decodeIfPresent([Int].self, forKey: .layoutChildCounts)
        if let counts = layoutChildCounts,
            counts.count > Limits.layoutChangesMax + 1 || !counts.allSatisfy((1...Limits.bricksPerVolumeMax).contains)
        {
            throw DecodingError.dataCorruptedError(
                forKey: .layoutChildCounts, in: container, debugDescription: "layout generations \(counts) out of range")
        }
        guard bricks.count <= Limits.bricksPerVolumeMax else {
            throw DecodingError.dataCorruptedError(
                forKey: .bricks, in: container, debugDescription: "\(bricks.count) bricks in one volume")
        }
    }
}

/// One brick of a volume's configuration.
public struct BrickInfo: Codable, Sendable, Hashable {
    public var host: String
    public var path: String
    public var port: Int
    public var index: Int

    public init(host: String, path: String, port: Int, index: Int) {
        self.host = host
        self.path = path
        self.port = port
        self.index = index
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        host = try container.decode(String.self, forKey: .host)
        path = try container.decode(String.self, forKey: .path)
        port = try container.decode(Int.self, forKey: .port, within: 0...Limits.portNumberMax)
        index = try container.decode(Int.self, forKey: .index, within: 0...Limits.bricksPerVolumeMax - 1)
    }
}

/// A volume's run-time state, as `volume status` shows it.
public struct VolumeStatus: Codable, Sendable, Hashable {
    public var name: String
    public var state: String
    public var bricks: [BrickStatus]
    /// Each replica set's current view, by set index (member `m` of set `s` is brick `s × members + m`); empty
    /// for a volume that is not replicated.
    public var replicaSets: [ReplicaSetView]

    public init(name: String, state: String, bricks: [BrickStatus], replicaSets: [ReplicaSetView] = []) {
        self.name = name
        self.state = state
        self.bricks = bricks
        self.replicaSets = replicaSets
    }

    /// An older daemon sends no replica sets: its volumes are not replicated.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        state = try container.decode(String.self, forKey: .state)
        bricks = try container.decode([BrickStatus].self, forKey: .bricks)
        replicaSets = try container.decodeIfPresent([ReplicaSetView].self, forKey: .replicaSets) ?? []
    }
}

/// One brick process's run-time state. `pid` is nil when no process runs (or its host did not answer).
public struct BrickStatus: Codable, Sendable, Hashable {
    public var volume: String
    public var host: String
    public var path: String
    public var port: Int
    public var index: Int
    public var pid: Int32?
    /// True when the brick's port accepted a connection just now.
    public var online: Bool

    public init(volume: String, host: String, path: String, port: Int, index: Int, pid: Int32?, online: Bool) {
        self.volume = volume
        self.host = host
        self.path = path
        self.port = port
        self.index = index
        self.pid = pid
        self.online = online
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        volume = try container.decode(String.self, forKey: .volume)
        host = try container.decode(String.self, forKey: .host)
        path = try container.decode(String.self, forKey: .path)
        port = try container.decode(Int.self, forKey: .port, within: 0...Limits.portNumberMax)
        index = try container.decode(Int.self, forKey: .index, within: 0...Limits.bricksPerVolumeMax - 1)
        pid = try container.decodeIfPresent(Int32.self, forKey: .pid)
        online = try container.decode(Bool.self, forKey: .online)
    }
}

/// The cluster's revoked certificates: serial number (lower-case hex) → the name it was issued to. `mortar cert
/// revoke` posts the ones it adds; daemons and bricks fetch the whole list.
public struct RevokedCertificates: Codable, Sendable, Hashable {
    public var certificates: [String: String]

    public init(certificates: [String: String]) {
        self.certificates = certificates
    }
}

/// The reply of a request that returns nothing else.
public struct EmptyResponse: Codable, Sendable, Hashable {
    public init() {}
}

/// The body of every non-2xx reply: the errno and the reason, so the client rethrows the daemon's error as is.
public struct ErrorResponse: Codable, Sendable, Hashable {
    public var code: Int32
    public var message: String

    public init(code: Int32, message: String) {
        self.code = code
        self.message = message
    }
}

extension KeyedDecodingContainer {
    /// Decodes an integer that its receiver uses as an index, a count or a port, refusing one outside `range`:
    /// the other side of a management connection is another process, and a value it got wrong must fail the
    /// decode (a protocol error) rather than an index or an arithmetic operation later.
    func decode(_ type: Int.Type, forKey key: Key, within range: ClosedRange<Int>) throws -> Int {
        let value = try decode(Int.self, forKey: key)
        guard range.contains(value) else {
            throw DecodingError.dataCorruptedError(
                forKey: key, in: self, debugDescription: "\(value) is outside \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    func decodeIfPresent(_ type: Int.Type, forKey key: Key, within range: ClosedRange<Int>) throws -> Int? {
        guard contains(key), try !decodeNil(forKey: key) else { return nil }
        return try decode(Int.self, forKey: key, within: range)
    }
}

/// `POST /v1/volumes/NAME/options`: sets one option (`mortar volume set`).
public struct VolumeOptionRequest: Codable, Sendable, Hashable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// `GET /v1/volumes/NAME/options`: every option's value in force (set or default), and which were set.
public struct VolumeOptionsInfo: Codable, Sendable, Hashable {
    public var values: [String: String]
    public var set: [String]

    public init(values: [String: String], set: [String]) {
        self.values = values
        self.set = set
    }
}
