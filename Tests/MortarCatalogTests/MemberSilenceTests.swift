import MortarCore
import Testing

@testable import MortarDaemon

/// The failure detector's verdicts, on made-up clocks: a member is gone after enough missed heartbeats and enough
/// silence; the member a set's quorum depends on gets longer; a paused detector counts afresh.
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

    @Test("after a pause of the detector, silent members are counted afresh; answering ones are untouched")
    func aPauseIsForgiven() {
        var silent = MemberSilence(since: start)
        silent.miss()
        silent.miss()
        silent.miss()
        // The detector was stopped from +1 s to +5 s; its late timers then counted misses.
        silent.forgive(at: at(5_000))
        #expect(silent.misses == 0)
        #expect(!silent.isGone(at: at(5_000 + Limits.replicaSilenceMaxMilliseconds), holdsQuorum: false),
                "no misses counted since the pause")
        silent.miss()
        silent.miss()
        #expect(!silent.isGone(at: at(5_000 + Limits.replicaSilenceMaxMilliseconds - 1), holdsQuorum: false))
        #expect(silent.isGone(at: at(5_000 + Limits.replicaSilenceMaxMilliseconds), holdsQuorum: false),
                "a member silent after the pause is gone as usual")

        var answering = MemberSilence(since: start)
        answering.answer(at: at(900))
        answering.forgive(at: at(5_000))
        #expect(answering.answered && answering.lastAnswer == at(900))
    }

    @Test("a timer that fires late by more than the bound means the detector was paused")
    func pausesAreTimersFiringLate() {
        let interval = Duration.milliseconds(Limits.replicaHeartbeatIntervalMilliseconds)
        let onTime = start + interval + .milliseconds(Limits.replicaDetectorPauseMaxMilliseconds)
        #expect(MemberSilence.pause(sleepingFrom: start, for: interval, wokeAt: onTime) == nil)
        let late = onTime + .milliseconds(1)
        #expect(MemberSilence.pause(sleepingFrom: start, for: interval, wokeAt: late)
                == .milliseconds(Limits.replicaDetectorPauseMaxMilliseconds + 1))
    }
}
