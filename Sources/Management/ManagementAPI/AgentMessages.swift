import MortarCore

/// Messages of the host-agent endpoints, which the manager calls on every host's daemon (itself included).

/// A brick as its host's agent needs it; mirrors the catalog's brick assignment.
public struct AgentBrick: Codable, Sendable, Hashable {
    public var volume: String
    public var path: String
    public var port: Int
    public var index: Int
    /// The manager's `HOST:PORT`: a brick learns its replica set there, and follows its volume's options.
    public var manager: String?
    /// Other daemons' `HOST:PORT` (with the catalog on etcd every daemon answers for the cluster): asked when
    /// `manager` — the brick's own daemon — cannot be reached, so a brick whose daemon is gone can still report a
    /// failed member and learn new views. Not part of what makes a brick the same brick: a daemon does not
    /// restart a running brick only because the cluster's daemons changed.
    public var alternateManagers: [String]
    /// The volume's options when the brick was assigned (set ones only), so that a brick started while the
    /// manager is unreachable enforces them from its first connection.
    public var options: [String: String]

    public init(
        volume: String, path: String, port: Int, index: Int, manager: String? = nil, alternateManagers: [String] = [],
        options: [String: String] = [:]
    ) {
        self.volume = volume
        self.path = path
        self.port = port
        self.index = index
        self.manager = manager
        self.alternateManagers = alternateManagers
        self.options = options
    }

    /// This brick without its alternate managers: two assignments that differ only there run the same brick.
    public var identity: AgentBrick {
        var brick = self
        brick.alternateManagers = []
        return brick
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        volume = try container.decode(String.self, forKey: .volume)
        path = try container.decode(String.self, forKey: .path)
        port = try container.decode(Int.self, forKey: .port, within: 0...Limits.portNumberMax)
        index = try container.decode(Int.self, forKey: .index, within: 0...Limits.bricksPerVolumeMax - 1)
        manager = try container.decodeIfPresent(String.self, forKey: .manager)
        // Daemons before alternates send none.
        alternateManagers = try container.decodeIfPresent([String].self, forKey: .alternateManagers) ?? []
        guard alternateManagers.count <= Limits.brickAlternateManagersMax else {
            throw DecodingError.dataCorruptedError(
                forKey: .alternateManagers, in: container,
                debugDescription: "\(alternateManagers.count) alternate managers, more than \(Limits.brickAlternateManagersMax)")
        }
        // host.json files written before volume options existed have none.
        options = try container.decodeIfPresent([String: String].self, forKey: .options) ?? [:]
    }
}

/// `POST /v1/agent/check`: may these paths become bricks on this host?
public struct AgentCheckRequest: Codable, Sendable, Hashable {
    public var paths: [String]
    /// Create a missing directory instead of refusing it.
    public var force: Bool

    public init(paths: [String], force: Bool) {
        self.paths = paths
        self.force = force
    }
}

/// `POST /v1/agent/start` and `POST /v1/agent/stop`.
public struct AgentBricksRequest: Codable, Sendable, Hashable {
    public var bricks: [AgentBrick]

    public init(bricks: [AgentBrick]) {
        self.bricks = bricks
    }
}
