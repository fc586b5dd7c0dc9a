import Logging
import MortarCatalog
import MortarCore
import MortarManagementAPI
import MortarMembership
import MortarSecurity
import MortarTransport
import MortarWire
import NIOCore

/// The manager's failure detector for replicated volumes. Every `Limits.replicaHeartbeatIntervalMilliseconds` it
/// asks every member of every started replicated volume for its status (a real request through the brick's
/// whole request path, answered within `Limits.replicaHeartbeatTimeoutMilliseconds` or counted as missed). A
/// heartbeat is sent every interval even while earlier ones still wait (at most
/// `Limits.replicaHeartbeatsInFlightMax` per member), so a member that went silent collects its misses at the
/// interval's pace, not the timeout's. After `Limits.replicaSilenceMaxMilliseconds` without an answer (over at
/// least `Limits.replicaHeartbeatMissesMax` failed heartbeats; longer for a member its set's quorum depends on:
/// ``MemberSilence``) the member is reported unreachable — judged at every
/// interval, so a daemon that just took the manager role over reports a member already silent long enough at
/// once; an out-of-sync member that answers again is reported reachable, which starts its heal. The last answers
/// are kept for `heal info`.
actor ReplicaMonitor {
    struct MemberKey: Hashable {
        var volume: String
        var brickIndex: Int
    }

    struct MemberRecord {
        var endpoint: Endpoint
        /// The connection heartbeats share; one that fails is closed and the next heartbeat makes another.
        var connection: BrickConnection?
        var probesInFlight = 0
        var silence = MemberSilence(since: .now)
        var status: MemberStatus?
    }

    private let manager: Manager
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger
    private var members: [MemberKey: MemberRecord] = [:]

    init(manager: Manager, eventLoopGroup: any EventLoopGroup, logger: Logger) {
        self.manager = manager
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
    }

    /// One heartbeat to send: the member, where it listens, and its open connection if it has one.
    private struct Probe: Sendable {
        var key: MemberKey
        var endpoint: Endpoint
        var connection: BrickConnection?
        var volume: Volume
    }

    /// Probes until cancelled. Every probe is a child of this task group, so none outlives the monitor: on
    /// cancellation they are cancelled too, and awaited before the connections are closed.
    func run() async {
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled {
                for probe in await tick() {
                    group.addTask { await self.probe(probe) }
                }
                // Cancelled: the sleep ends at once and the loop with it.
                try? await Task.sleep(for: .milliseconds(Limits.replicaHeartbeatIntervalMilliseconds))
            }
            group.cancelAll()
        }
        for record in members.values { record.connection?.close() }
    }

    /// Brings the members up to date with the catalog; returns the heartbeats to send (one per member that has
    /// none under way).
    private func tick() async -> [Probe] {
        let catalog = await manager.refresh()
        var wanted: Set<MemberKey> = []
        var probes: [Probe] = []
        for volume in catalog.volumes where volume.state == .started && volume.replicaCount > 1 {
            for brick in volume.bricks {
                let key = MemberKey(volume: volume.name, brickIndex: brick.index)
                wanted.insert(key)
                let host = catalog.isLocal(brick.host) ? "127.0.0.1" : brick.host
                let endpoint = Endpoint.tcp(host: host, port: brick.port)
                if members[key]?.endpoint != endpoint {
                    members[key]?.connection?.close()
                    members[key] = MemberRecord(endpoint: endpoint)
                }
                await judge(key, volume: volume)
                guard let record = members[key], record.probesInFlight < Limits.replicaHeartbeatsInFlightMax else {
                    continue
                }
                members[key]?.probesInFlight += 1
                probes.append(Probe(key: key, endpoint: endpoint, connection: record.connection, volume: volume))
            }
        }
        for key in members.keys where !wanted.contains(key) {
            members[key]?.connection?.close()
            members[key] = nil
        }
        return probes
    }

    /// Reports a member that ``MemberSilence`` counts as gone, unless its set already counts it out of sync.
    private func judge(_ key: MemberKey, volume: Volume) async {
        // The shorter bound first: a member that answers costs no catalog read.
        guard let record = members[key], record.silence.isGone(at: .now, holdsQuorum: false) else { return }
        let setIndex = key.brickIndex / volume.replicaCount
        let member = key.brickIndex % volume.replicaCount
        // No view: the member is reported unreachable anyway (the manager decides).
        let view = try? await manager.membership(volume: volume.name)[setIndex]
        guard view?.members[member] != .outOfSync else { return }
        let holdsQuorum = view.map { MemberSilence.holdsQuorum(member, of: $0) } ?? false
        guard let current = members[key], current.silence.isGone(at: .now, holdsQuorum: holdsQuorum) else { return }
        await report(volume.name, setIndex, .unreachable(member: member))
    }

    /// How a heartbeat's race ended.
    private enum Outcome: Sendable {
        case answered(Result<(BrickConnection, MemberStatus), any Error>)
        case timedOut
        case cancelled
    }

    /// One heartbeat: answered within `Limits.replicaHeartbeatTimeoutMilliseconds`, or a miss. The attempt races
    /// a timer in a task group (a connect to a host cut off from the network waits seconds for its SYN; the
    /// heartbeat must not): the first to finish is settled at once, the other is cancelled and awaited, and an
    /// answer that comes too late closes its connection.
    private func probe(_ probe: Probe) async {
        let endpoint = probe.endpoint
        await withTaskGroup(of: Outcome.self) { group in
            group.addTask {
                .answered(await Self.attempt(probe, security: self.manager.security, eventLoopGroup: self.eventLoopGroup))
            }
            group.addTask {
                do {
                    try await Task.sleep(for: .milliseconds(Limits.replicaHeartbeatTimeoutMilliseconds))
                    return .timedOut
                } catch {
                    return .cancelled
                }
            }
            let first = await group.next() ?? .cancelled
            group.cancelAll()
            switch first {
            case .answered(let result):
                await settle(probe.key, result: result, sentOn: probe.connection, volume: probe.volume)
            case .timedOut:
                await settle(
                    probe.key, result: .failure(FileSystemError(.timedOut, "\(endpoint) did not answer in time")),
                    sentOn: probe.connection, volume: probe.volume)
            case .cancelled:
                // The monitor is stopping: no verdict on the member.
                break
            }
            for await late in group {
                if case .answered(.success(let (connection, _))) = late { connection.close() }
            }
        }
    }

    /// Pushes the member's view and asks for its status, over its connection or a new one.
    private static func attempt(_ probe: Probe, security: TransportSecurity, eventLoopGroup: any EventLoopGroup) async
        -> Result<(BrickConnection, MemberStatus), any Error>
    {
        let setIndex = probe.key.brickIndex / max(probe.volume.replicaCount, 1)
        let sets = probe.volume.replicaSets
        let view = sets.indices.contains(setIndex) ? sets[setIndex].view : nil
        let live: BrickConnection
        do {
            if let connection = probe.connection {
                live = connection
            } else {
                live = try await BrickConnection.connect(
                    to: probe.endpoint, clientName: "mortar-manager/heartbeat", security: security,
                    eventLoopGroup: eventLoopGroup,
                    requestTimeout: .milliseconds(Limits.replicaHeartbeatTimeoutMilliseconds))
            }
        } catch {
            return .failure(error)
        }
        do {
            if let view {
                // Push: the member learns a new epoch within a heartbeat, whether or not a request brings it.
                _ = try await live.call(.control(.installView(view)), credentials: WireCredentials(OperationContext()))
            }
            let status = try await live.call(.control(.memberStatus), credentials: WireCredentials(OperationContext()))
                .control().status()
            return .success((live, status))
        } catch {
            live.close()
            return .failure(error)
        }
    }

    /// Takes one heartbeat's outcome; `sentOn` is the shared connection it used (nil: it connected by itself).
    private func settle(
        _ key: MemberKey, result: Result<(BrickConnection, MemberStatus), any Error>, sentOn: BrickConnection?,
        volume: Volume
    ) async {
        guard members[key] != nil else {
            if case .success(let (connection, _)) = result { connection.close() }
            return
        }
        members[key]?.probesInFlight -= 1
        let replicaCount = volume.replicaCount
        let setIndex = key.brickIndex / replicaCount
        let member = key.brickIndex % replicaCount
        switch result {
        case .success(let (connection, status)):
            // Heartbeats sent side by side may each have connected: one connection is kept, the others closed.
            if let kept = members[key]?.connection, kept !== connection {
                connection.close()
            } else {
                members[key]?.connection = connection
            }
            members[key]?.silence.answer(at: .now)
            members[key]?.status = status
            // No view (the volume went away): nothing to hand over.
            let view = try? await manager.membership(volume: volume.name)[setIndex]
            // A member that still holds changes it applied without an acknowledgement hands them over first.
            let unsettled = status.pending.contains { $0.member == member && $0.files + $0.directories > 0 }
            if view?.members[member] == .outOfSync && !unsettled {
                await report(volume.name, setIndex, .reachable(member: member))
            }
        case .failure(let error):
            // The shared connection failed (or never answered): the next heartbeat connects afresh. A heartbeat
            // that had connected by itself closed its own connection already.
            if let shared = members[key]?.connection, shared === sentOn {
                shared.close()
                members[key]?.connection = nil
            }
            members[key]?.silence.miss()
            let misses = members[key]?.silence.misses ?? 0
            logger.debug("heartbeat missed", metadata: [
                "volume": "\(volume.name)", "brick": "\(key.brickIndex)", "misses": "\(misses)", "error": "\(error)",
            ])
            await judge(key, volume: volume)
        }
    }

    /// Reports a verdict. Every daemon watches every member (so one that takes the manager role over knows at
    /// once who has been silent), but only the role's holder reports what it saw; `volume heal` (`byDetector`
    /// false) is an admin's request and goes through whichever daemon received it.
    private func report(_ volume: String, _ setIndex: Int, _ event: MembershipEvent, byDetector: Bool = true) async {
        guard !byDetector || manager.role.isHeld else { return }
        do {
            _ = try await manager.applyMembership(
                volume: volume, setIndex: setIndex, event: event, byDetector: byDetector)
        } catch {
            logger.warning("could not apply a membership event", metadata: [
                "volume": "\(volume)", "event": "\(event)", "reason": "\(error)",
            ])
        }
    }

    /// What each brick of `volume` last reported.
    func healInfo(volume: Volume) async -> [BrickHealInfo] {
        let views = volume.replicaSets.map(\.view)
        return volume.bricks.map { brick in
            let record = members[MemberKey(volume: volume.name, brickIndex: brick.index)]
            let setIndex = brick.index / max(volume.replicaCount, 1)
            let member = brick.index % max(volume.replicaCount, 1)
            let pending = record?.status?.pending ?? []
            // Right after `volume start` no heartbeat has run yet (or the brick is still starting and refuses the
            // first ones): that is "no report yet" until it answers or has been silent as long as it takes to count
            // as gone — calling it "not answering" sent users looking for a fault.
            let awaiting = record.map { record in
                !record.silence.everAnswered
                    && ContinuousClock.now - record.silence.lastAnswer
                        < .milliseconds(Limits.replicaSilenceMaxMilliseconds)
            } ?? true
            return BrickHealInfo(
                brick: "\(brick.host):\(brick.path)", setIndex: setIndex, member: member,
                reachable: record?.silence.answered ?? false, awaitingFirstReport: awaiting,
                state: views.indices.contains(setIndex) ? views[setIndex].members[member] : .outOfSync,
                pending: pending, bytesHealed: record?.status?.bytesHealed ?? 0)
        }
    }

    /// `volume heal NAME`: every out-of-sync member that answers starts healing now.
    func startHeal(volume: Volume) async {
        for brick in volume.bricks {
            guard members[MemberKey(volume: volume.name, brickIndex: brick.index)]?.silence.answered == true else {
                continue
            }
            let setIndex = brick.index / volume.replicaCount
            await report(
                volume.name, setIndex, .reachable(member: brick.index % volume.replicaCount), byDetector: false)
        }
    }
}
