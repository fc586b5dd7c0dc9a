import MortarCore

/// Files known not to carry `security.capability`, for as long as attributes may be cached.
///
/// Before every write the kernel asks whether the file has file capabilities it would have to clear
/// (`file_remove_privs`), and FUSE passes that question on as a getxattr: one extra round trip to a brick per
/// write, which halved small-write throughput. The answer is almost always "no", and it changes only through
/// setxattr or removexattr, so it is remembered for the attribute timeout (as GlusterFS's md-cache does);
/// changes made through this mount forget it at once.
struct AbsentAttributeCache: Sendable {
    static let attributeName = "security.capability"

    private var expiries: [FileID: ContinuousClock.Instant] = [:]
    let capacity: Int
    let lifetime: Duration

    init(lifetime: Duration, capacity: Int = Limits.mountAbsentAttributeEntriesMax) {
        self.lifetime = lifetime
        self.capacity = capacity
    }

    /// Whether `name` on `id` is known to be absent right now.
    func isKnownAbsent(_ name: String, on id: FileID, now: ContinuousClock.Instant = .now) -> Bool {
        guard name == Self.attributeName, let expiry = expiries[id] else { return false }
        return now < expiry
    }

    mutating func noteAbsent(_ name: String, on id: FileID, now: ContinuousClock.Instant = .now) {
        guard name == Self.attributeName, lifetime > .zero else { return }
        if expiries.count >= capacity {
            expiries.removeAll(keepingCapacity: true)  // crude but bounded; the next writes ask once more
        }
        expiries[id] = now + lifetime
    }

    /// The attribute may have been set or removed: ask the volume next time.
    mutating func forget(_ name: String, on id: FileID) {
        guard name == Self.attributeName else { return }
        expiries[id] = nil
    }
}
