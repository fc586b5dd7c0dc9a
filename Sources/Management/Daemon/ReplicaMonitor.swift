import Logging
import MortarCatalog
import MortarCore
import MortarManagementAPI
import MortarMembership
import MortarTransport
import MortarWire
import NIOCore
import Synchronization

/// The manager's failure detector for replicated volumes. Every `Limits.replicaHeartbeatIntervalMilliseconds` it
/// asks every member of every started replicated volume for its status (a real request through the brick's
/// whole request path, answered within the same interval or counted as missed). After
/// `Limits.replicaSilenceMaxMilliseconds` without an answer (over at least `Limits.replicaHeartbeatMissesMax`
/// failed heartbeats) the member is reported unreachable; an out-of-sync member
/// that answers again is reported reachable, which starts its heal. The last answers are kept for `heal info`.
actor ReplicaMonitor {
    struct MemberKey: Hashable {
        var volume: String
        var brickIndex: Int
    }

    struct MemberRecord {
        var endpoint: Endpoint
        var connection: BrickConnection?
        var probing = false
        var misses = 0
        /// When the member last answered (or monitoring began).
        var lastAnswer = ContinuousClock.now
        var answered = false
        /// Whether the member has answered any heartbeat since monitoring began.
        var everAnswered = false
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

    /// Probes until cancelled.
    func run() async {
        while !Task.isCancelled {
            await tick()
            try? await Task.sleep(for: .milliseconds(Limits.replicaHeartbeatIntervalMilliseconds))
        }
        for record in members.values { record.connection?.close() }
    }

    private func tick() async {
        let catalog = await manager.catalog
        var wanted: Set<MemberKey> = []
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
                guard members[key]?.probing == false else { continue }
                members[key]?.probing = true
                let connection = members[key]?.connection
                Task { await self.probe(key, endpoint: endpoint, connection: connection, volume: volume) }
            }
        }
        for key in members.keys where !wanted.contains(key) {
            members[key]?.connection?.close()
            members[key] = nil
        }
    }

    /// One heartbeat: answered within the interval, or a miss.
    private func probe(_ key: MemberKey, endpoint: Endpoint, connection: BrickConnection?, volume: Volume) async {
        let group = eventLoopGroup
        let setIndex = key.brickIndex / max(volume.replicaCount, 1)
        let view = volume.replicaSets.indices.contains(setIndex) ? volume.replicaSets[setIndex].view : nil
        let attempt = Task { () -> (BrickConnection, MemberStatus) in
            let live: BrickConnection
            if let connection {
                live = connection
            } else {
                live = try await BrickConnection.connect(
                    to: endpoint, clientName: "mortar-manager/heartbeat", eventLoopGroup: group,
                    requestTimeout: .milliseconds(Limits.replicaHeartbeatTimeoutMilliseconds))
            }
            do {
                if let view {
                    // Push: the member learns a new epoch within a heartbeat, whether or not a request brings it.
                    _ = try await live.call(
                        .setExtendedAttribute(
                            name: ReplicaSetView.pushAttributeName, value: view.encoded, mode: .createOrReplace, .root),
                        credentials: WireCredentials(OperationContext()))
                }
                let reply = try await live.call(
                    .extendedAttribute(name: MemberStatus.attributeName, .root),
                    credentials: WireCredentials(OperationContext()))
                guard let status = MemberStatus(decoding: try reply.bytes()) else {
                    throw FileSystemError(.protocolError, "unreadable member status from \(endpoint)")
                }
                return (live, status)
            } catch {
                live.close()
                throw error
            }
        }
        let result = await Self.first(
            attempt, orTimeoutAfter: .milliseconds(Limits.replicaHeartbeatTimeoutMilliseconds),
            endpoint: endpoint)
        await settle(key, result: result, volume: volume)
    }

    /// The attempt's result, or a timeout if it takes longer (a connect to a host cut off from the network waits
    /// seconds for its SYN; the heartbeat must not). A late success closes its connection.
    private static func first(
        _ attempt: Task<(BrickConnection, MemberStatus), any Error>, orTimeoutAfter timeout: Duration,
        endpoint: Endpoint
    ) async -> Result<(BrickConnection, MemberStatus), any Error> {
        await withCheckedContinuation { continuation in
            let once = ResumeOnce(continuation)
            Task {
                let result = await attempt.result
                if !once.resume(returning: result), case .success(let (connection, _)) = result { connection.close() }
            }
            Task {
                try? await Task.sleep(for: timeout)
                if once.resume(returning: .failure(FileSystemError(.timedOut, "\(endpoint) did not answer in time"))) {
                    attempt.cancel()
                }
            }
        }
    }

    private func settle(_ key: MemberKey, result: Result<(BrickConnection, MemberStatus), any Error>, volume: Volume)
        async
    {
        guard members[key] != nil else {
            if case .success(let (connection, _)) = result { connection.close() }
            return
        }
        members[key]?.probing = false
        let replicaCount = volume.replicaCount
        let setIndex = key.brickIndex / replicaCount
        let member = key.brickIndex % replicaCount
        switch result {
        case .success(let (connection, status)):
            members[key]?.connection = connection
            members[key]?.misses = 0
            members[key]?.lastAnswer = .now
            members[key]?.answered = true
            members[key]?.everAnswered = true
            members[key]?.status = status
            // No view (the volume went away): nothing to hand over.
            let view = try? await manager.membership(volume: volume.name)[setIndex]
            // A member that still holds changes it applied without an acknowledgement hands them over first.
            let unsettled = status.pending.contains { $0.member == member && $0.files + $0.directories > 0 }
            if view?.members[member] == .outOfSync && !unsettled {
                await report(volume.name, setIndex, .reachable(member: member))
            }
        case .failure(let error):
            members[key]?.connection?.close()
            members[key]?.connection = nil
            members[key]?.answered = false
            let misses = (members[key]?.misses ?? 0) + 1
            members[key]?.misses = misses
            logger.debug("heartbeat missed", metadata: [
                "volume": "\(volume.name)", "brick": "\(key.brickIndex)", "misses": "\(misses)", "error": "\(error)",
            ])
            let silence = ContinuousClock.now - (members[key]?.lastAnswer ?? .now)
            if misses >= Limits.replicaHeartbeatMissesMax && silence >= .milliseconds(Limits.replicaSilenceMaxMilliseconds) {
                // No view: the member is reported unreachable anyway (the manager decides).
                let view = try? await manager.membership(volume: volume.name)[setIndex]
                if view?.members[member] != .outOfSync {
                    await report(volume.name, setIndex, .unreachable(member: member))
                }
            }
        }
    }

    private func report(_ volume: String, _ setIndex: Int, _ event: MembershipEvent) async {
        do {
            _ = try await manager.applyMembership(volume: volume, setIndex: setIndex, event: event)
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
                !record.everAnswered
                    && ContinuousClock.now - record.lastAnswer < .milliseconds(Limits.replicaSilenceMaxMilliseconds)
            } ?? true
            return BrickHealInfo(
                brick: "\(brick.host):\(brick.path)", setIndex: setIndex, member: member,
                reachable: record?.answered ?? false, awaitingFirstReport: awaiting,
                state: views.indices.contains(setIndex) ? views[setIndex].members[member] : .outOfSync,
                pending: pending, bytesHealed: record?.status?.bytesHealed ?? 0)
        }
    }

    /// `volume heal NAME`: every out-of-sync member that answers starts healing now.
    func startHeal(volume: Volume) async {
        for brick in volume.bricks {
            guard members[MemberKey(volume: volume.name, brickIndex: brick.index)]?.answered == true else { continue }
            let setIndex = brick.index / volume.replicaCount
            await report(volume.name, setIndex, .reachable(member: brick.index % volume.replicaCount))
        }
    }
}

/// A continuation that the first of several racers resumes; the others learn they lost.
private final class ResumeOnce<Value: Sendable>: Sendable {
    private let continuation: Mutex<CheckedContinuation<Value, Never>?>

    init(_ continuation: CheckedContinuation<Value, Never>) {
        self.continuation = Mutex(continuation)
    }

    /// Resumes with `value` if nobody has; returns whether this call did.
    func resume(returning value: Value) -> Bool {
        guard let waiting = continuation.withLock({ state in defer { state = nil }; return state }) else { return false }
        waiting.resume(returning: value)
        return true
    }
}
