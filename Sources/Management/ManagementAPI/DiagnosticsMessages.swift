import MortarCore

/// One brick's answer to a question the daemon put to every brick of a volume (`volume profile`, `volume top`,
/// `volume status VOL clients`): its value, or why there is none (not running, not answering in time, refused).
public struct BrickAnswer<Value: Codable & Sendable>: Codable, Sendable {
    /// The brick's position in the volume.
    public var index: Int
    /// "HOST:PATH", as `volume info` names it.
    public var brick: String
    public var value: Value?
    public var error: String?

    public init(index: Int, brick: String, value: Value?, error: String?) {
        self.index = index
        self.brick = brick
        self.value = value
        self.error = error
    }
}

/// `POST /v1/volumes/NAME/profile`: every brick's profile; each brick begins a new interval.
public struct VolumeProfile: Codable, Sendable {
    public var volume: String
    public var bricks: [BrickAnswer<BrickProfile>]

    public init(volume: String, bricks: [BrickAnswer<BrickProfile>]) {
        self.volume = volume
        self.bricks = bricks
    }
}

/// `GET /v1/volumes/NAME/top?kind=KIND&count=N`: every brick's hottest files.
public struct VolumeTop: Codable, Sendable {
    public var volume: String
    public var kind: TopKind
    public var bricks: [BrickAnswer<BrickTop>]

    public init(volume: String, kind: TopKind, bricks: [BrickAnswer<BrickTop>]) {
        self.volume = volume
        self.kind = kind
        self.bricks = bricks
    }
}

/// `GET /v1/volumes/NAME/clients`: every brick's connections.
public struct VolumeClients: Codable, Sendable {
    public var volume: String
    public var bricks: [BrickAnswer<BrickClients>]

    public init(volume: String, bricks: [BrickAnswer<BrickClients>]) {
        self.volume = volume
        self.bricks = bricks
    }
}
