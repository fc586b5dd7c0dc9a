import Foundation
import MortarCatalog
import MortarCore
import MortarEtcd

/// Where the catalog is kept, and how a change is made to it without losing another's.
///
/// - `file`: one daemon owns the catalog in its state directory (`mortar daemon` without `--etcd`). Its changes
///   are serialised by a lock held across the local file write only.
/// - `etcd`: every daemon of the cluster shares the catalog, stored as one key. A change is a transaction that
///   compares the revision the change was computed from: two daemons changing the catalog at once never both
///   succeed, and the loser computes its change again on what the winner wrote.
enum CatalogStore: Sendable {
    case file(StateFile<Catalog>, AsyncLock)
    case etcd(EtcdCatalog)
}

/// A catalog as read from its store, with the store's revision of it (etcd's mod revision; for a file, a counter
/// this daemon keeps).
struct StoredCatalog: Sendable {
    var catalog: Catalog
    var revision: Int64
}

/// The catalog under etcd's keys, in the same versioned JSON document a catalog file holds.
struct EtcdCatalog: Sendable {
    let client: EtcdClient
    /// The same members with a shorter timeout, for what a failover waits on (membership changes, and the reads
    /// behind every answer, which fall back to the copy read before): during etcd's own leader change a request
    /// can hang on a member whose leader just died, and the next member should be asked long before an admin
    /// command's patience runs out.
    let urgentClient: EtcdClient

    init(client: EtcdClient) {
        self.client = client
        urgentClient = client.timingOut(afterMilliseconds: Limits.etcdUrgentRequestTimeoutMilliseconds)
    }

    /// The catalog's key, and the key the manager role is held under (``ManagerRole``).
    static let catalogKey = "/mortar/v1/catalog"
    static let managerKey = "/mortar/v1/manager"

    /// Why a transaction did not go through.
    enum Refusal: Error {
        /// Another daemon changed the catalog since it was read; here is what it wrote.
        case changed(StoredCatalog?)
        /// The manager role this change needed is held by another daemon now (or by none).
        case roleLost
    }

    /// The stored catalog, or nil before the first daemon wrote one.
    func load(urgent: Bool = false) async throws(FileSystemError) -> StoredCatalog? {
        guard let stored = try await (urgent ? urgentClient : client).get(Self.catalogKey) else { return nil }
        return try Self.decode(stored)
    }

    /// Writes `catalog` if the stored one is still at `revision` (0: if there is none yet) and, when `fence` is
    /// given, if the manager role is still held under that creation revision. Returns the new revision.
    func store(_ catalog: Catalog, replacing revision: Int64, fence: Int64?, urgent: Bool = false)
        async throws(FileSystemError) -> Result<Int64, Refusal>
    {
        let data = try StateFile<Catalog>.encode(catalog, source: "the catalog")
        guard data.count <= Limits.etcdCatalogByteCountMax else {
            throw FileSystemError(
                .noSpace,
                "the catalog would be \(data.count) bytes, more than the \(Limits.etcdCatalogByteCountMax) etcd takes in one request")
        }
        var conditions: [EtcdCompare] = [
            revision == 0
                ? .createRevision(key: Self.catalogKey, equals: 0)
                : .modRevision(key: Self.catalogKey, equals: revision)
        ]
        if let fence { conditions.append(.createRevision(key: Self.managerKey, equals: fence)) }
        let result = try await (urgent ? urgentClient : client).transaction(
            conditions, success: [.put(key: Self.catalogKey, value: [UInt8](data))],
            failure: [.get(key: Self.catalogKey), .get(key: Self.managerKey)])
        guard !result.succeeded else { return .success(result.revision) }
        if let fence, result.reads[1].first?.createRevision != fence { return .failure(.roleLost) }
        return .failure(.changed(try result.reads[0].first.map(Self.decode)))
    }

    static func decode(_ stored: EtcdKeyValue) throws(FileSystemError) -> StoredCatalog {
        StoredCatalog(
            catalog: try StateFile<Catalog>.decode(Data(stored.value), source: "the catalog in etcd (\(catalogKey))"),
            revision: stored.modRevision)
    }
}
