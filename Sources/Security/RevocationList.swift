import Synchronization

/// The serial numbers of revoked certificates, as the manager last published them. Every daemon and brick keeps
/// one, refreshes it in the background and consults it at every new connection; a connection whose certificate is
/// revoked later is cut when the refresh learns of it.
public final class RevocationList: Sendable {
    private let serials = Mutex<Set<String>>([])

    public init(_ serials: Set<String> = []) {
        self.serials.withLock { $0 = serials }
    }

    public func isRevoked(_ serial: String) -> Bool {
        guard !serial.isEmpty else { return false }
        return serials.withLock { $0.contains(serial) }
    }

    /// Takes `new` as the whole list; returns the serials that were not revoked before. A list is never shortened
    /// by a refresh: revocation is for good, and a manager that answers with less (restored from an old backup) must
    /// not let a revoked certificate back in.
    @discardableResult
    public func merge(_ new: some Sequence<String>) -> Set<String> {
        serials.withLock { serials in
            let added = Set(new).subtracting(serials)
            serials.formUnion(added)
            return added
        }
    }

    public var all: Set<String> { serials.withLock { $0 } }
}
