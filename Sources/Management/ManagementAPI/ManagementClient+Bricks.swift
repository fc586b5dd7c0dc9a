import NIOHTTP1

extension ManagementClient {
    /// Puts a new, empty brick `newBrick` in the place of `oldBrick` (both `HOST:/PATH`) in a replicated volume.
    public func replaceBrick(
        volume: String, oldBrick: String, newBrick: String, force: Bool = false
    ) async throws -> VolumeInfo {
        try await send(
            .POST, "/v1/volumes/\(volume)/replace-brick",
            body: VolumeReplaceBrickRequest(oldBrick: oldBrick, newBrick: newBrick, force: force))
    }

    /// Adds `bricks` (each `HOST:/PATH`) to a volume: whole replica sets to a replicated one.
    public func addBricks(volume: String, bricks: [String], force: Bool = false) async throws -> VolumeInfo {
        try await send(
            .POST, "/v1/volumes/\(volume)/add-brick", body: VolumeAddBrickRequest(bricks: bricks, force: force))
    }
}
