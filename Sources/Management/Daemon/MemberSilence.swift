import MortarCore

/// What the manager's failure detector knows of one member's silence, and its verdict. Pure (the clock is an
/// argument), so its rules are tested with made-up instants; `ReplicaMonitor` feeds it heartbeats.
///
/// Rules:
/// - a member is gone only after at least `Limits.replicaHeartbeatMissesMax` missed heartbeats in a row *and*
///   `Limits.replicaSilenceMaxMilliseconds` without an answer; an answer clears both;
/// - a member whose removal would leave its set below min-in-sync must be silent for
///   `Limits.replicaQuorumSilenceMaxMilliseconds` instead (see there).
struct MemberSilence: Sendable {
    private(set) var misses = 0
    /// When the member last answered, or when counting (re)started.
    private(set) var lastAnswer: ContinuousClock.Instant
    /// Whether the last heartbeat was answered.
    private(set) var answered = false
    /// Whether any heartbeat has been answered since monitoring began.
    private(set) var everAnswered = false

    init(since start: ContinuousClock.Instant) {
        lastAnswer = start
    }

    mutating func answer(at now: ContinuousClock.Instant) {
        misses = 0
        lastAnswer = now
        answered = true
        everAnswered = true
    }

    mutating func miss() {
        answered = false
        misses += 1
    }

    /// Whether the member counts as gone at `now`; `holdsQuorum`: taking it out would leave its set below
    /// min-in-sync.
    func isGone(at now: ContinuousClock.Instant, holdsQuorum: Bool) -> Bool {
        guard !answered, misses >= Limits.replicaHeartbeatMissesMax else { return false }
        let bound = holdsQuorum ? Limits.replicaQuorumSilenceMaxMilliseconds : Limits.replicaSilenceMaxMilliseconds
        return now - lastAnswer >= .milliseconds(bound)
    }

    /// Whether member `member` of `view` holds its set's quorum: in sync, with no in-sync member to spare.
    static func holdsQuorum(_ member: Int, of view: ReplicaSetView) -> Bool {
        view.members.indices.contains(member) && view.members[member] == .inSync
            && view.inSyncMembers.count <= view.minInSync
    }
}
