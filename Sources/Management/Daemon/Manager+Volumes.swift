import Foundation
import Logging
import MortarCatalog
import MortarCore
import MortarManagementAPI
import MortarMembership
import MortarVolumeSpec

extension Manager {
    func createVolume(_ request: VolumeCreateRequest) async throws(FileSystemError) -> VolumeInfo {
        await lock.acquire()
        defer { lock.release() }
        var locations: [BrickLocation] = []
        for text in request.bricks { locations.append(try BrickLocation(parsing: text)) }
        let command = CatalogCommand.createVolume(
            name: request.name, id: UUID().uuidString.lowercased(), bricks: locations,
            replicaCount: request.replicaCount ?? 1, minInSync: request.minInSync, force: request.force)
        // The catalog's own rules first: they need no I/O and name the conflicting volume.
        var trial = catalog
        _ = try trial.apply(command)
        guard let planned = trial.volume(named: request.name) else {
            preconditionFailure("created volume \(request.name) is missing from the catalog")
        }
        for (host, bricks) in Self.groupedByHost(planned.bricks) {
            do {
                try await agent(for: host).check(AgentCheckRequest(paths: bricks.map { $0.path }, force: request.force))
            } catch {
                let failure = FileSystemError.wrapping(error)
                throw FileSystemError(failure.code, "\(host): \(failure.message)")
            }
        }
        _ = try await commit(command)
        return try volumeInfo(name: request.name)
    }

    func startVolume(name: String) async throws(FileSystemError) -> VolumeInfo {
        await lock.acquire()
        defer { lock.release() }
        var trial = catalog
        let directives = try trial.apply(.startVolume(name: name))
        var started: [(String, [AgentBrick])] = []
        for case .startBricks(let host, let assignments) in directives {
            let bricks = agentBricks(assignments, host: host)
            do {
                try await agent(for: host).start(bricks)
                started.append((host, bricks))
            } catch {
                // Rollback after a failed start, whose error is the one reported.
                for (startedHost, startedBricks) in started { try? await agent(for: startedHost).stop(startedBricks) }
                let failure = FileSystemError.wrapping(error)
                throw FileSystemError(failure.code, "cannot start volume \(name) on \(host): \(failure.message)")
            }
        }
        _ = try await commit(.startVolume(name: name))
        return try volumeInfo(name: name)
    }

    func stopVolume(name: String) async throws(FileSystemError) -> VolumeInfo {
        await lock.acquire()
        defer { lock.release() }
        let directives = try await commit(.stopVolume(name: name))
        for case .stopBricks(let host, let assignments) in directives {
            do {
                try await agent(for: host).stop(assignments.map { AgentBrick($0) })
            } catch {
                logger.warning("cannot stop bricks", metadata: ["host": "\(host)", "volume": "\(name)",
                                                                "reason": "\(error)"])
            }
        }
        return try volumeInfo(name: name)
    }

    func deleteVolume(name: String) async throws(FileSystemError) {
        await lock.acquire()
        defer { lock.release() }
        _ = try await commit(.deleteVolume(name: name))
    }

    func volumeInfo(name: String) throws(FileSystemError) -> VolumeInfo {
        VolumeInfo(try existingVolume(name))
    }

    func volumes() -> [VolumeInfo] {
        catalog.volumes.map(VolumeInfo.init)
    }

    /// Every option of `name` in force, and which were set.
    func volumeOptions(name: String) throws(FileSystemError) -> VolumeOptionsInfo {
        let volume = try existingVolume(name)
        return VolumeOptionsInfo(
            values: VolumeOptions.defaults.merging(volume.options) { $1 }, set: volume.options.keys.sorted())
    }

    /// `volume set`; bricks pick the change up on their next poll.
    func setOption(volume: String, name: String, value: String) async throws(FileSystemError) -> VolumeOptionsInfo {
        try await changeOption(.setOption(volume: volume, name: name, value: value), volume: volume)
    }

    /// `volume reset` of one option, or of every option when `name` is nil.
    func resetOption(volume: String, name: String?) async throws(FileSystemError) -> VolumeOptionsInfo {
        try await changeOption(.resetOption(volume: volume, name: name), volume: volume)
    }

    private func changeOption(_ command: CatalogCommand, volume: String) async throws(FileSystemError)
        -> VolumeOptionsInfo
    {
        await lock.acquire()
        defer { lock.release() }
        _ = try await commit(command)
        return try volumeOptions(name: volume)
    }

    /// The client graph of a started volume; a stopped volume has no bricks to talk to.
    func volumeSpec(name: String) throws(FileSystemError) -> VolumeSpec {
        let volume = try existingVolume(name)
        guard volume.state == .started else { throw FileSystemError.notConnected("volume \(name) is not started") }
        return catalog.spec(for: volume)
    }

    /// Each brick with its process as its host reports it; a host that does not answer shows its bricks offline.
    func volumeStatus(name: String) async throws(FileSystemError) -> VolumeStatus {
        let volume = try existingVolume(name)
        var reported: [Int: BrickStatus] = [:]
        for (host, _) in Self.groupedByHost(volume.bricks) {
            // Status display: a host that does not answer shows none of its bricks running.
            let statuses = (try? await agent(for: host).status(host: host)) ?? []
            for status in statuses where status.volume == name { reported[status.index] = status }
        }
        let bricks = volume.bricks.map { brick in
            let status = reported[brick.index]
            return BrickStatus(volume: name, host: brick.host, path: brick.path, port: brick.port, index: brick.index,
                               pid: status?.pid, online: status?.online ?? false)
        }
        return VolumeStatus(
            name: name, state: volume.state.rawValue, bricks: bricks, replicaSets: volume.replicaSets.map(\.view))
    }

    func existingVolume(_ name: String) throws(FileSystemError) -> Volume {
        guard let volume = catalog.volume(named: name) else {
            throw FileSystemError.notFound("volume \(name) does not exist")
        }
        return volume
    }

    /// Bricks grouped by host, hosts in order of their first brick.
    static func groupedByHost(_ bricks: [Brick]) -> [(String, [Brick])] {
        var order: [String] = []
        var groups: [String: [Brick]] = [:]
        for brick in bricks {
            if groups[brick.host] == nil { order.append(brick.host) }
            groups[brick.host, default: []].append(brick)
        }
        return order.map { ($0, groups[$0] ?? []) }
    }
}
