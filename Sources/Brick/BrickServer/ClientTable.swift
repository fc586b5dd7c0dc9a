import MortarCore
import Synchronization

/// The connections a brick serves, for `volume status VOL clients`: each session is listed from its admission
/// until it closes (a client that leaves before its welcome is closed too: ``RequestServer``), so the table is
/// bounded by the brick's connection budget (`Limits.brickConnectionsMax`).
final class ClientTable: Sendable {
    private let sessions = Mutex<[UInt64: BrickSession]>([:])

    func add(_ connectionID: UInt64, _ session: BrickSession) {
        sessions.withLock { $0[connectionID] = session }
    }

    func remove(_ connectionID: UInt64) {
        _ = sessions.withLock { $0.removeValue(forKey: connectionID) }
    }

    /// Every connection but `asking` (the one the question came on) counted, the busiest
    /// `Limits.brickClientsReportedMax` listed (most requests first).
    func report(excluding asking: UInt64) -> BrickClients {
        let all = sessions.withLock { sessions in sessions.filter { $0.key != asking }.map(\.value) }
        let clients = all.map { $0.client }.sorted { a, b in
            a.requests != b.requests ? a.requests > b.requests : (a.address, a.name) < (b.address, b.name)
        }
        return BrickClients(total: all.count, clients: Array(clients.prefix(Limits.brickClientsReportedMax)))
    }
}
