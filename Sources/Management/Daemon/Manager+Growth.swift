import Logging
import MortarCatalog
import MortarCore
import MortarManagementAPI

extension Manager {
    /// Adds bricks to a volume. The catalog's rules come first (no I/O), then each new brick's host checks its
    /// directory, then the catalog records the change (written before anything else happens), and on a started
    /// volume the new bricks are started. Clients follow the new spec the next time they place a name, miss one or
    /// start a listing (asking at most once a second each); new names go to the new bricks from then on.
    func addBricks(volume name: String, _ request: VolumeAddBrickRequest) async throws(FileSystemError) -> VolumeInfo {
        await lock.acquire()
        defer { lock.release() }
        guard request.bricks.count <= Limits.bricksPerVolumeMax else {
            throw FileSystemError.invalidArgument("add-brick names \(request.bricks.count) bricks")
        }
        var locations: [BrickLocation] = []
        for text in request.bricks { locations.append(try BrickLocation(parsing: text)) }
        let command = CatalogCommand.addBricks(volume: name, bricks: locations, force: request.force)
        var trial = catalog
        _ = try trial.apply(command)
        var pathsByHost: [String: [String]] = [:]
        var hosts: [String] = []
        for location in locations {
            if pathsByHost[location.host] == nil { hosts.append(location.host) }
            pathsByHost[location.host, default: []].append(try Catalog.normalizedBrickPath(location))
        }
        for host in hosts {
            do {
                try await agent(for: host).check(AgentCheckRequest(paths: pathsByHost[host] ?? [], force: request.force))
            } catch {
                let failure = FileSystemError.wrapping(error)
                throw FileSystemError(failure.code, "\(host): \(failure.message)")
            }
        }
        let directives = try await commit(command)
        logger.info("bricks added", metadata: ["volume": "\(name)", "bricks": "\(request.bricks)"])
        for directive in directives {
            guard case .startBricks(let host, let assignments) = directive else { continue }
            try await startBricks(assignments, on: host, after: "bricks were added to volume \(name)")
        }
        return try volumeInfo(name: name)
    }

    /// Has `host`'s agent start bricks a committed change gave it; a failure says what was done (`done`), since
    /// the catalog already records it, and why the start failed.
    func startBricks(_ assignments: [BrickAssignment], on host: String, after done: String) async throws(FileSystemError) {
        do {
            try await agent(for: host).start(agentBricks(assignments, host: host))
        } catch {
            let failure = FileSystemError.wrapping(error)
            throw FileSystemError(failure.code, "\(done), but the bricks cannot start on \(host): \(failure.message)")
        }
    }
}
