import MortarCore
import Synchronization

/// The access policy a brick enforces, from its volume's options (`auth.allow`, `auth.reject`, root and all
/// squash): replaced whole when the options change, read at every hello and every client request.
public final class ServerPolicy: Sendable {
    private let options: Mutex<VolumeOptions>
    /// `diagnostics.profile`, read at every request without a lock: the low bit is whether it is on, the rest a
    /// generation that grows each time it turns on (so a profile restarted between two requests starts afresh).
    private let profileSwitch: Atomic<UInt64>

    public init(_ options: VolumeOptions = VolumeOptions()) {
        self.options = Mutex(options)
        self.profileSwitch = Atomic(options.profile ? 0b11 : 0)
    }

    public var current: VolumeOptions { options.withLock { $0 } }

    /// Takes `new` for every later hello and request; returns whether anything changed.
    @discardableResult
    public func update(_ new: VolumeOptions) -> Bool {
        options.withLock { options in
            defer { options = new }
            if new.profile != options.profile {
                let generation = profileSwitch.load(ordering: .relaxed) >> 1
                profileSwitch.store(new.profile ? (generation + 1) << 1 | 1 : generation << 1, ordering: .relaxed)
            }
            return options != new
        }
    }

    /// Whether the brick profiles its requests, and since which start.
    var profiling: (isOn: Bool, generation: UInt64) {
        let value = profileSwitch.load(ordering: .relaxed)
        return (value & 1 == 1, value >> 1)
    }

    /// The context a request runs in. Only a client's identity is squashed: a change forwarded by another member
    /// was checked, with the squashed identity, where it entered. (Until connections are authenticated, a client
    /// can claim a member's role; the README's Security section says so.)
    func context(for context: OperationContext) -> OperationContext {
        guard context.replication.role == .client else { return context }
        let (userID, groupID, groups) = current.squash(
            userID: context.userID, groupID: context.groupID, groups: context.supplementaryGroupIDs)
        guard userID != context.userID || groupID != context.groupID || groups != context.supplementaryGroupIDs
        else { return context }
        var squashed = context
        squashed.userID = userID
        squashed.groupID = groupID
        squashed.supplementaryGroupIDs = groups
        return squashed
    }
}
