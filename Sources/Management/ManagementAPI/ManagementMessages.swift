/// The management API's messages, JSON on the wire. The daemon, the CLI and the client library share them; they
/// mirror the catalog without depending on it, so a client never links the manager's state machine.

/// `GET /v1/hello`: who a daemon is.
public struct HelloResponse: Codable, Sendable, Hashable {
    /// A UUID string that stays the same across restarts of the daemon with the same state directory.
    public var daemonID: String
    /// The daemon's software and API version.
    public var version: String
    /// The host name the daemon believes it is reachable as.
    public var host: String

    public init(daemonID: String, version: String, host: String) {
        self.daemonID = daemonID
        self.version = version
        self.host = host
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
}

/// `POST /v1/volumes`: create a volume over bricks given as `HOST:/PATH`.
public struct VolumeCreateRequest: Codable, Sendable, Hashable {
    public var name: String
    public var bricks: [String]
    /// Create missing brick directories instead of refusing them.
    public var force: Bool

    public init(name: String, bricks: [String], force: Bool) {
        self.name = name
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

    public init(name: String, id: String, state: String, bricks: [BrickInfo]) {
        self.name = name
        self.id = id
        self.state = state
        self.bricks = bricks
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
}

/// A volume's run-time state, as `volume status` shows it.
public struct VolumeStatus: Codable, Sendable, Hashable {
    public var name: String
    public var state: String
    public var bricks: [BrickStatus]

    public init(name: String, state: String, bricks: [BrickStatus]) {
        self.name = name
        self.state = state
        self.bricks = bricks
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
