import MortarCore
import NIOHTTP1

extension ManagementClient {
    /// Every brick's profile of `volume` (`volume profile VOL info`). A POST, not a GET: each brick begins a new
    /// interval, so the request must not be repeated (a GET may be sent to a second daemon when the first is slow).
    public func volumeProfile(name: String) async throws -> VolumeProfile {
        try await send(.POST, "/v1/volumes/\(name)/profile")
    }

    /// Every brick's `count` hottest files of `volume` by `kind` (`volume top`).
    public func volumeTop(name: String, kind: TopKind, count: Int) async throws -> VolumeTop {
        try await send(.GET, "/v1/volumes/\(name)/top?kind=\(kind.name)&count=\(count)")
    }

    /// Every brick's connections (`volume status VOL clients`).
    public func volumeClients(name: String) async throws -> VolumeClients {
        try await send(.GET, "/v1/volumes/\(name)/clients")
    }
}
