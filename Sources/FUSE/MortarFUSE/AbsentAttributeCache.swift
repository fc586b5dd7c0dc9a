import MortarCore

/// Extended attributes known to be absent, for as long as attributes may be cached.
///
/// The kernel asks for some attributes all the time and almost always hears "no such attribute": before every
/// write it asks for `security.capability` (whether it must clear file capabilities), and `ls -l` asks every file
/// for `security.selinux` and `system.posix_acl_access`. Each question would be a round trip to a brick, which
/// halved small-write throughput and made `ls -l` several times slower. Absence is remembered per file and name
/// for the attribute timeout, like the attributes themselves (GlusterFS's md-cache does the same); a change made
/// through this mount forgets it at once, one made by another client shows after the timeout.
struct AbsentAttributeCache: Sendable {
    private struct Key: Hashable {
        var id: FileID
        var name: String
    }

    private var expiries: [Key: ContinuousClock.Instant] = [:]
    let capacity: Int
    let lifetime: Duration

    init(lifetime: Duration, capacity: Int = Limits.mountAbsentAttributeEntriesMax) {
        self.lifetime = lifetime
        self.capacity = capacity
    }

    /// Whether `name` on `id` is known to be absent right now.
    func isKnownAbsent(_ name: String, on id: FileID, now: ContinuousClock.Instant = .now) -> Bool {
        guard let expiry = expiries[Key(id: id, name: name)] else { return false }
        return now < expiry
    }

    mutating func noteAbsent(_ name: String, on id: FileID, now: ContinuousClock.Instant = .now) {
        guard lifetime > .zero else { return }
        if expiries.count >= capacity {
            expiries.removeAll(keepingCapacity: true)  // crude but bounded: the next questions go to the bricks once
        }
        expiries[Key(id: id, name: name)] = now + lifetime
    }

    /// The attribute may have been set or removed: ask the volume next time.
    mutating func forget(_ name: String, on id: FileID) {
        expiries[Key(id: id, name: name)] = nil
    }
}
