import MortarVolumeSpec
import NIOHTTP1

/// `GET /v1/volumes/NAME/rebalance` (and the answer to `start` and `stop`): where a volume's rebalance is.
public struct RebalanceStatusReply: Codable, Sendable, Hashable {
    public var volume: String
    /// `in progress`, `stopped`, `failed` or `completed` (GlusterFS's words); `not started` when none ever ran.
    public var state: String
    /// The host whose daemon runs it: the one holding the manager role.
    public var host: String
    /// The last path the crawl finished (`/` before it began).
    public var cursor: String
    public var counters: RebalanceCounters
    /// Seconds left, estimated from the entries the bricks held when the run began; nil before anything was
    /// scanned or once it ended.
    public var secondsLeft: Double?
    public var throttle: String
    public var failure: String?

    public init(
        volume: String, state: String, host: String, cursor: String, counters: RebalanceCounters,
        secondsLeft: Double?, throttle: String, failure: String?
    ) {
        self.volume = volume
        self.state = state
        self.host = host
        self.cursor = cursor
        self.counters = counters
        self.secondsLeft = secondsLeft
        self.throttle = throttle
        self.failure = failure
    }

    /// Whether the rebalance has stopped running (any state but `in progress`).
    public var isFinished: Bool { state != RebalanceState.inProgress.rawValue }
}

extension ManagementClient {
    /// `rebalance VOL start`: a new rebalance, or the stopped or failed one resumed where it was.
    public func startRebalance(volume: String) async throws -> RebalanceStatusReply {
        try await send(.POST, "/v1/volumes/\(volume)/rebalance/start", body: EmptyResponse())
    }

    /// `rebalance VOL stop`: it stops after the files it is moving; `start` resumes it.
    public func stopRebalance(volume: String) async throws -> RebalanceStatusReply {
        try await send(.POST, "/v1/volumes/\(volume)/rebalance/stop", body: EmptyResponse())
    }

    public func rebalanceStatus(volume: String) async throws -> RebalanceStatusReply {
        try await send(.GET, "/v1/volumes/\(volume)/rebalance")
    }
}
