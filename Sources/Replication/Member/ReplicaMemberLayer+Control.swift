import MortarCore
import MortarMembership

/// The member's side of replication's control messages (``ControlRequest``). The brick session has already
/// refused them from anyone but a cluster host; each case here checks the role its sender must have.
extension ReplicaMemberLayer {
    public func control(_ request: ControlRequest, context: OperationContext) async throws -> ControlReply {
        switch request {
        case .heal(let heal, let file):
            try await performHeal(heal, of: file, context: context)
        case .recordMissed(let note):
            try await recordNote(note, context: context)
        case .reconcile(let note):
            try await reconcile(note.changes, context: context)
        case .settleBarrier:
            try await answerBarrier(context: context)
        case .installView(let view):
            // The daemon's push carries no epoch: it is how a member that missed a change of membership learns it.
            guard context.userID == 0, !context.replication.isReplicated else {
                throw FileSystemError(.operationNotPermitted, "a view is pushed by the daemon only")
            }
            let known = agent.view
            try agent.install(view.validated(setIndex: known.setIndex, memberCount: known.members.count))
        case .memberStatus:
            // Answered in any epoch: the heartbeat asks whether the brick answers and what it has recorded.
            return .memberStatus(status)
        case .metrics, .profile, .top, .clients, .fence, .unfence:
            throw FileSystemError(.notSupported, "a \(request.name) is answered by the brick's server, not its stack")
        }
        return .done
    }
}
