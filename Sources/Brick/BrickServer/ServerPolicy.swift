import MortarCore
import Synchronization

/// The access policy a brick enforces, from its volume's options (`auth.allow`, `auth.reject`, root and all
/// squash): replaced whole when the options change, read at every hello and every client request.
public final class ServerPolicy: Sendable {
    private let options: Mutex<VolumeOptions>

    public init(_ options: VolumeOptions = VolumeOptions()) {
        self.options = Mutex(options)
    }

    public var current: VolumeOptions { options.withLock { $0 } }

    /// Takes `new` for every later hello and request; returns whether anything changed.
    @discardableResult
    public func update(_ new: VolumeOptions) -> Bool {
        options.withLock { options in
            defer { options = new }
            return options != new
        }
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
