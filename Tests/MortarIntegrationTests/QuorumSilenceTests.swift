import Foundation
import MortarCore
import Testing

/// The failure detector does not make a set read-only on a moment's silence: with one member of three already
/// out, the member the set's quorum now depends on gets `Limits.replicaQuorumSilenceMaxMilliseconds`, not the
/// usual `replicaSilenceMaxMilliseconds` (taking it out would gain no write and cost a heal).
@Suite("Failure detector and the quorum")
struct QuorumSilenceTests {
    @Test func theMemberAQuorumDependsOnIsNotTakenOutForAShortSilence() async throws {
        let set = try await ReplicatedCluster.start(volume: "quorum")
        let first = try #require(try await set.pid(ofBrick: 2))
        let second = try #require(try await set.pid(ofBrick: 1))
        // Stopped, not killed: the daemon restarts a brick that dies, and this member must stay away.
        kill(first, SIGSTOP)
        let stopped = ContinuousClock.now
        try await waitUntil("the first silent member is taken out", seconds: 60) {
            try await set.status().replicaSets[0].members[2] == .outOfSync
        }
        print("quorum silence: the first silent member was out after \(ContinuousClock.now - stopped)")
        let before = try await set.status().replicaSets[0]
        #expect(before.members[1] == .inSync && before.isWritable)

        // Silent twice as long as it takes to condemn a member whose loss the set can afford.
        let silence = Duration.milliseconds(Limits.replicaSilenceMaxMilliseconds * 2)
        #expect(silence < .milliseconds(Limits.replicaQuorumSilenceMaxMilliseconds))
        kill(second, SIGSTOP)
        try await Task.sleep(for: silence)
        // Checked while it is still stopped: the window is the test (nothing must happen in it).
        let during = try await set.status().replicaSets[0]
        kill(second, SIGCONT)
        kill(first, SIGCONT)
        #expect(during.epoch == before.epoch, "the quorum's member was taken out after \(silence): \(during)")
        #expect(during.isWritable, "\(during)")
        try await set.waitUntilInSync(seconds: 60)
        await set.tearDown()
    }
}
