import MortarCore
import Testing

@testable import MortarDaemon

/// The failure detector's verdicts, on made-up clocks: a member is gone after enough missed heartbeats and enough
/// silence; the member a set's quorum depends on gets longer.
@Suite("Member silence")
struct MemberSilenceTests {
    let start = ContinuousClock.now

    func at(_ milliseconds: Int64) -> ContinuousClock.Instant {
        start + .milliseconds(milliseconds)
    }

    @Test("gone only after enough misses and enough silence; an answer clears both")
    func missesAndSilenceBothCount() {
        var silence = MemberSilence(since: start)
        silence.miss()
        #expect(!silence.isGone(at: at(60_000), holdsQuorum: false), "one miss is never enough")
        silence.miss()
        #expect(!silence.isGone(at: at(Limits.replicaSilenceMaxMilliseconds - 1), holdsQuorum: false))
        #expect(silence.isGone(at: at(Limits.replicaSilenceMaxMilliseconds), holdsQuorum: false))
        silence.answer(at: at(3_000))
        #expect(!silence.isGone(at: at(60_000), holdsQuorum: false), "an answer clears the misses")
        silence.miss()
        silence.miss()
        #expect(!silence.isGone(at: at(3_000 + Limits.replicaSilenceMaxMilliseconds - 1), holdsQuorum: false))
        #expect(silence.isGone(at: at(3_000 + Limits.replicaSilenceMaxMilliseconds), holdsQuorum: false))
    }

    @Test("the member a set's quorum depends on must be silent longer")
    func theQuorumHolderGetsLonger() {
        var silence = MemberSilence(since: start)
        silence.miss()
        silence.miss()
        #expect(silence.isGone(at: at(Limits.replicaSilenceMaxMilliseconds), holdsQuorum: false))
        #expect(!silence.isGone(at: at(Limits.replicaQuorumSilenceMaxMilliseconds - 1), holdsQuorum: true))
        #expect(silence.isGone(at: at(Limits.replicaQuorumSilenceMaxMilliseconds), holdsQuorum: true))
    }

    @Test("who holds the quorum: an in-sync member with none to spare")
    func whoHoldsTheQuorum() {
        // Replica 3, two needed in sync.
        let full = ReplicaSetView(setIndex: 0, memberCount: 3, minInSync: 2)
        #expect(!MemberSilence.holdsQuorum(0, of: full), "the first loss leaves two")
        var oneLost = full
        oneLost.members[2] = .outOfSync
        #expect(MemberSilence.holdsQuorum(0, of: oneLost))
        #expect(MemberSilence.holdsQuorum(1, of: oneLost))
        #expect(!MemberSilence.holdsQuorum(2, of: oneLost), "an out-of-sync member holds nothing")
        var healing = oneLost
        healing.members[2] = .healing
        #expect(MemberSilence.holdsQuorum(0, of: healing), "a healing member does not count towards the quorum")
        #expect(!MemberSilence.holdsQuorum(7, of: full), "a position the set does not have")
    }
}
