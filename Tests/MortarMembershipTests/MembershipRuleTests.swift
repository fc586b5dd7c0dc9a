import Foundation
import MortarCore
import MortarMembership
import Testing

/// One test per rule of ``ReplicaSetMembership``, each from a hand-built history, so a broken rule is named by the
/// test that fails (the random simulation finds that something broke; these say what).
@Suite struct MembershipRuleTests {
    /// A set of `memberCount` members, all in sync at epoch 1, after `events` (each must change the view: the
    /// histories below are built from valid steps only).
    static func membership(
        memberCount: Int = 3, minInSync: Int = 1, after events: [MembershipEvent] = []
    ) throws -> ReplicaSetMembership {
        var membership = ReplicaSetMembership(setIndex: 0, memberCount: memberCount, minInSync: minInSync)
        for event in events {
            let outcome = try membership.apply(event)
            #expect(outcome.changed, "setting up: \(event) did not change the view: \(outcome)")
        }
        return membership
    }

    /// The reason an outcome gives, changed or not.
    static func reason(_ outcome: MembershipOutcome) -> String {
        switch outcome {
        case .changed(let reason), .unchanged(let reason): return reason
        }
    }

    /// Applies `event` and expects it to change nothing at all (not even the epoch); returns the reason.
    @discardableResult
    static func expectUnchanged(
        _ membership: inout ReplicaSetMembership, _ event: MembershipEvent,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> String {
        let before = membership
        let outcome = try membership.apply(event)
        #expect(!outcome.changed, "\(event) changed the view: \(outcome)", sourceLocation: sourceLocation)
        #expect(membership == before, "\(event) was refused yet altered the state", sourceLocation: sourceLocation)
        return reason(outcome)
    }

    // MARK: Leaving

    @Test func unreachableInSyncMemberLeavesWithTheRestAsWitnesses() throws {
        var membership = try Self.membership(memberCount: 3, minInSync: 2)
        let outcome = try membership.apply(.unreachable(member: 1))
        #expect(outcome.changed)
        #expect(membership.view.epoch == 2)
        #expect(membership.view.members == [.inSync, .outOfSync, .inSync])
        #expect(membership.witnesses[1] == [0, 2])
        #expect(membership.needsFullResync == [false, false, false])
        #expect(membership.view.isWritable)
    }

    @Test func unreachableOutOfSyncMemberChangesNothing() throws {
        var membership = try Self.membership(after: [.unreachable(member: 2)])
        try Self.expectUnchanged(&membership, .unreachable(member: 2))
    }

    @Test func lastInSyncMemberNeverLeaves() throws {
        var membership = try Self.membership(memberCount: 2, minInSync: 1, after: [.unreachable(member: 0)])
        let reason = try Self.expectUnchanged(&membership, .unreachable(member: 1))
        #expect(reason.contains("last in-sync member"), "reason: \(reason)")
        try Self.expectUnchanged(&membership, .forwardFailed(member: 1, epoch: membership.view.epoch))
        #expect(membership.view.inSyncMembers == [1])
        #expect(membership.view.isWritable, "one in-sync member is enough when the minimum is one")
    }

    @Test func singleMemberSetKeepsItsOnlyMember() throws {
        var membership = try Self.membership(memberCount: 1, minInSync: 1)
        let reason = try Self.expectUnchanged(&membership, .unreachable(member: 0))
        #expect(reason.contains("last in-sync member"))
        #expect(membership.view.primary(for: .root) == 0)
    }

    @Test func unreachableHealingMemberGoesBackOutOfSync() throws {
        var membership = try Self.membership(after: [.unreachable(member: 2), .reachable(member: 2)])
        #expect(membership.view.members[2] == .healing)
        let epoch = membership.view.epoch
        let outcome = try membership.apply(.unreachable(member: 2))
        #expect(outcome.changed)
        #expect(membership.view.epoch == epoch + 1)
        #expect(membership.view.members[2] == .outOfSync)
        #expect(membership.witnesses[2] == [0, 1], "what the member missed is still recorded by the same witnesses")
        #expect(!membership.needsFullResync[2])
    }

    // MARK: Returning and healing

    @Test func reachableOutOfSyncMemberStartsHealing() throws {
        var membership = try Self.membership(after: [.unreachable(member: 0)])
        let outcome = try membership.apply(.reachable(member: 0))
        #expect(outcome.changed)
        #expect(membership.view.epoch == 3)
        #expect(membership.view.members == [.healing, .inSync, .inSync])
        #expect(membership.view.healingMembers == [0])
        #expect(membership.healSource(for: 0) == 1, "the lowest-numbered witness heals")
        #expect(membership.view.forwardTargets(from: 1) == [0, 2], "a healing member receives new changes")
        #expect(membership.view.primary(for: .root) != 0, "a healing member is never a primary")
    }

    @Test func reachableInSyncOrHealingMemberChangesNothing() throws {
        var membership = try Self.membership(after: [.unreachable(member: 0), .reachable(member: 0)])
        try Self.expectUnchanged(&membership, .reachable(member: 0))
        try Self.expectUnchanged(&membership, .reachable(member: 1))
    }

    @Test func healSourceIsNilUnlessHealing() throws {
        let membership = try Self.membership(after: [.unreachable(member: 0)])
        #expect(membership.healSource(for: 0) == nil, "out of sync")
        #expect(membership.healSource(for: 1) == nil, "in sync")
        #expect(membership.healSource(for: 3) == nil, "no such member")
        #expect(membership.healSource(for: -1) == nil, "no such member")
    }

    @Test func caughtUpAcceptedOnlyFromTheHealSourceInTheCurrentEpoch() throws {
        var membership = try Self.membership(after: [.unreachable(member: 2), .reachable(member: 2)])
        let epoch = membership.view.epoch
        #expect(membership.healSource(for: 2) == 0)

        let wrongSource = try Self.expectUnchanged(&membership, .caughtUp(member: 2, source: 1, epoch: epoch))
        #expect(wrongSource.contains("not the heal source"), "reason: \(wrongSource)")
        try Self.expectUnchanged(&membership, .caughtUp(member: 2, source: 2, epoch: epoch))
        try Self.expectUnchanged(&membership, .caughtUp(member: 2, source: 7, epoch: epoch))
        let stale = try Self.expectUnchanged(&membership, .caughtUp(member: 2, source: 0, epoch: epoch - 1))
        #expect(stale.contains("epoch"), "reason: \(stale)")
        try Self.expectUnchanged(&membership, .caughtUp(member: 2, source: 0, epoch: epoch + 1))
        let notHealing = try Self.expectUnchanged(&membership, .caughtUp(member: 1, source: 0, epoch: epoch))
        #expect(notHealing.contains("not healing"), "reason: \(notHealing)")

        let outcome = try membership.apply(.caughtUp(member: 2, source: 0, epoch: epoch))
        #expect(outcome.changed)
        #expect(membership.view.epoch == epoch + 1)
        #expect(membership.view.members == [.inSync, .inSync, .inSync])
        #expect(membership.witnesses[2].isEmpty)
        #expect(!membership.needsFullResync[2])
        #expect(membership.joinedEpoch[2] == epoch + 1)
        // The same report again is from an old epoch now, and the member is no longer healing anyway.
        try Self.expectUnchanged(&membership, .caughtUp(member: 2, source: 0, epoch: epoch))
        try Self.expectUnchanged(&membership, .caughtUp(member: 2, source: 0, epoch: epoch + 1))
    }

    @Test func caughtUpForOutOfSyncMemberIsRefused() throws {
        var membership = try Self.membership(after: [.unreachable(member: 2)])
        let reason = try Self.expectUnchanged(
            &membership, .caughtUp(member: 2, source: 0, epoch: membership.view.epoch))
        #expect(reason.contains("not healing"))
    }

    /// A report whose epoch was current when it was sent is stale once anything else changed the view.
    @Test func caughtUpFromBeforeAnUnrelatedChangeIsRefused() throws {
        var membership = try Self.membership(
            memberCount: 4, after: [.unreachable(member: 3), .reachable(member: 3)])
        let epoch = membership.view.epoch
        try membership.apply(.unreachable(member: 2))
        #expect(membership.healSource(for: 3) == 0, "the heal source did not change")
        try Self.expectUnchanged(&membership, .caughtUp(member: 3, source: 0, epoch: epoch))
    }

    // MARK: Witnesses and full resync

    @Test func witnessesShrinkWhenAnotherInSyncMemberLeaves() throws {
        var membership = try Self.membership(memberCount: 4, after: [.unreachable(member: 3), .reachable(member: 3)])
        #expect(membership.witnesses[3] == [0, 1, 2])
        try membership.apply(.unreachable(member: 0))
        #expect(membership.witnesses[3] == [1, 2])
        #expect(membership.witnesses[0] == [1, 2], "member 3 is healing, not a witness")
        #expect(membership.healSource(for: 3) == 1)
        try membership.apply(.forwardFailed(member: 1, epoch: membership.view.epoch))
        #expect(membership.witnesses[3] == [2])
        #expect(membership.witnesses[0] == [2])
        #expect(membership.witnesses[1] == [2])
        #expect(membership.needsFullResync == [false, false, false, false])
        #expect(membership.healSource(for: 3) == 2)
    }

    /// Member 2 leaves with witnesses {0, 1}; 0 leaves and rejoins (it missed changes, so it is not a witness again);
    /// then 1 leaves: nobody's record of what 2 missed is complete, so 2 must be compared in full, from the first
    /// in-sync member.
    @Test func emptyWitnessSetForcesFullResyncFromTheFirstInSyncMember() throws {
        var membership = try Self.membership(after: [.unreachable(member: 2), .unreachable(member: 0)])
        #expect(membership.witnesses[2] == [1])
        try membership.apply(.reachable(member: 0))
        try membership.apply(.caughtUp(member: 0, source: 1, epoch: membership.view.epoch))
        #expect(membership.witnesses[2] == [1], "a rejoined member is no witness of what it missed itself")
        try membership.apply(.unreachable(member: 1))
        #expect(membership.witnesses[2].isEmpty)
        #expect(membership.needsFullResync == [false, false, true])
        #expect(membership.witnesses[1] == [0])

        try membership.apply(.reachable(member: 2))
        try membership.apply(.reachable(member: 1))
        #expect(membership.healSource(for: 2) == 0, "full resync: the first in-sync member")
        #expect(membership.healSource(for: 1) == 0, "its witness")
        try Self.expectUnchanged(&membership, .caughtUp(member: 2, source: 1, epoch: membership.view.epoch))
        try membership.apply(.caughtUp(member: 1, source: 0, epoch: membership.view.epoch))
        #expect(membership.healSource(for: 2) == 0, "the first in-sync member is still 0")
        try membership.apply(.caughtUp(member: 2, source: 0, epoch: membership.view.epoch))
        #expect(membership.view.inSyncMembers == [0, 1, 2])
        #expect(membership.needsFullResync == [false, false, false])
    }

    @Test func fullResyncHealSourceFollowsTheFirstInSyncMember() throws {
        var membership = try Self.membership(after: [.unreachable(member: 0), .replaced(member: 0), .reachable(member: 0)])
        #expect(membership.needsFullResync[0])
        #expect(membership.healSource(for: 0) == 1)
        try membership.apply(.unreachable(member: 1))
        #expect(membership.healSource(for: 0) == 2)
    }

    // MARK: Failed forwards

    @Test func forwardFailedInTheCurrentEpochRemovesTheMember() throws {
        var membership = try Self.membership()
        let outcome = try membership.apply(.forwardFailed(member: 1, epoch: 1))
        #expect(outcome.changed)
        #expect(membership.view.members == [.inSync, .outOfSync, .inSync])
        #expect(membership.witnesses[1] == [0, 2])
        #expect(!membership.needsFullResync[1])
    }

    @Test func forwardFailedForMemberThatRejoinedAfterTheReportedEpochForcesFullResync() throws {
        var membership = try Self.membership(after: [.forwardFailed(member: 1, epoch: 1), .reachable(member: 1)])
        try membership.apply(.caughtUp(member: 1, source: 0, epoch: membership.view.epoch))
        #expect(membership.joinedEpoch[1] == 4)
        // A failure from epoch 2, when member 1 was healing, reported only now that it is back in sync.
        let outcome = try membership.apply(.forwardFailed(member: 1, epoch: 2))
        #expect(outcome.changed)
        #expect(membership.view.members[1] == .outOfSync)
        #expect(membership.needsFullResync[1])
        #expect(membership.witnesses[1] == [0, 2])
    }

    /// One write finds members 1 and 2 dead: the first report ends epoch 1, so the second names an earlier epoch.
    /// Member 2 missed a change of epoch 1, but the witnesses' records of its absence start in epoch 2.
    @Test func secondFailureOfOneWriteForcesFullResync() throws {
        var membership = try Self.membership(after: [.forwardFailed(member: 1, epoch: 1)])
        let outcome = try membership.apply(.forwardFailed(member: 2, epoch: 1))
        #expect(outcome.changed)
        #expect(membership.view.members == [.inSync, .outOfSync, .outOfSync])
        #expect(membership.needsFullResync == [false, false, true])
        try membership.apply(.reachable(member: 2))
        #expect(membership.healSource(for: 2) == 0)
    }

    @Test func failureReportedAfterAnUnrelatedChangeForcesFullResync() throws {
        var membership = try Self.membership(memberCount: 4, after: [.unreachable(member: 3)])
        try membership.apply(.forwardFailed(member: 1, epoch: 1))
        #expect(membership.view.members[1] == .outOfSync)
        #expect(membership.needsFullResync[1], "the change of epoch 1 predates every record of member 1's absence")
        #expect(!membership.needsFullResync[3])
    }

    @Test func forwardFailedFromAFutureEpochIsIgnored() throws {
        var membership = try Self.membership()
        let reason = try Self.expectUnchanged(&membership, .forwardFailed(member: 1, epoch: 2))
        #expect(reason.contains("ahead"), "reason: \(reason)")
        try Self.expectUnchanged(&membership, .forwardFailed(member: 1, epoch: .max))
    }

    @Test func forwardFailedForHealingMemberSendsItBackOutOfSync() throws {
        var membership = try Self.membership(after: [.unreachable(member: 1), .reachable(member: 1)])
        let outcome = try membership.apply(.forwardFailed(member: 1, epoch: membership.view.epoch))
        #expect(outcome.changed)
        #expect(membership.view.members[1] == .outOfSync)
        #expect(membership.witnesses[1] == [0, 2])
    }

    // MARK: Replacing a brick

    @Test func replacingTheOnlyInSyncMemberIsRefusedAsBusy() throws {
        var membership = try Self.membership(memberCount: 2, after: [.unreachable(member: 1)])
        let before = membership
        let error = #expect(throws: FileSystemError.self) { try membership.apply(.replaced(member: 0)) }
        #expect(error?.code == .busy)
        #expect(error?.message.contains("only in-sync member") == true, "message: \(error?.message ?? "")")
        #expect(membership == before)
    }

    @Test func replacingInSyncMemberSendsItOutOfSyncForFullResync() throws {
        var membership = try Self.membership()
        let outcome = try membership.apply(.replaced(member: 2))
        #expect(outcome.changed)
        #expect(membership.view.epoch == 2)
        #expect(membership.view.members == [.inSync, .inSync, .outOfSync])
        #expect(membership.needsFullResync == [false, false, true])
        try membership.apply(.reachable(member: 2))
        #expect(membership.healSource(for: 2) == 0)
    }

    @Test func replacingHealingMemberSendsItOutOfSyncForFullResync() throws {
        var membership = try Self.membership(after: [.unreachable(member: 1), .reachable(member: 1)])
        let epoch = membership.view.epoch
        let outcome = try membership.apply(.replaced(member: 1))
        #expect(outcome.changed)
        #expect(membership.view.epoch == epoch + 1)
        #expect(membership.view.members[1] == .outOfSync)
        #expect(membership.needsFullResync[1])
    }

    @Test func replacingOutOfSyncMemberMarksItForFullResync() throws {
        var membership = try Self.membership(after: [.unreachable(member: 1)])
        let outcome = try membership.apply(.replaced(member: 1))
        #expect(outcome.changed)
        #expect(membership.view.epoch == 3)
        #expect(membership.view.members[1] == .outOfSync)
        #expect(membership.needsFullResync[1])
    }

    @Test func replacingAMemberThatDoesNotExistIsInvalid() throws {
        var membership = try Self.membership()
        let error = #expect(throws: FileSystemError.self) { try membership.apply(.replaced(member: 3)) }
        #expect(error?.code == .invalidArgument)
    }

    // MARK: Members that do not exist

    @Test(arguments: [-1, 3, 100])
    func eventsAboutMembersThatDoNotExistChangeNothing(member: Int) throws {
        var membership = try Self.membership(after: [.unreachable(member: 0), .reachable(member: 0)])
        let epoch = membership.view.epoch
        try Self.expectUnchanged(&membership, .unreachable(member: member))
        try Self.expectUnchanged(&membership, .reachable(member: member))
        try Self.expectUnchanged(&membership, .forwardFailed(member: member, epoch: epoch))
        try Self.expectUnchanged(&membership, .caughtUp(member: member, source: 1, epoch: epoch))
        try Self.expectUnchanged(&membership, .caughtUp(member: 0, source: member, epoch: epoch))
    }

    // MARK: Persistence

    @Test func membershipRoundTripsThroughJSON() throws {
        var membership = try Self.membership(
            memberCount: 4, minInSync: 2,
            after: [
                .unreachable(member: 3), .forwardFailed(member: 0, epoch: 2), .reachable(member: 3),
                .replaced(member: 0),
            ])
        let data = try JSONEncoder().encode(membership)
        var decoded = try JSONDecoder().decode(ReplicaSetMembership.self, from: data)
        #expect(decoded == membership)
        #expect(decoded.healSource(for: 3) == membership.healSource(for: 3))
        // The decoded copy goes on exactly as the original would.
        for event: MembershipEvent in [.reachable(member: 0), .caughtUp(member: 3, source: 1, epoch: 6)] {
            #expect(try decoded.apply(event) == membership.apply(event))
        }
        #expect(decoded == membership)
    }

    @Test func eventsRoundTripThroughJSON() throws {
        let events: [MembershipEvent] = [
            .unreachable(member: 1), .forwardFailed(member: 2, epoch: .max), .reachable(member: 0),
            .caughtUp(member: 1, source: 2, epoch: 17), .replaced(member: 4),
        ]
        let data = try JSONEncoder().encode(events)
        #expect(try JSONDecoder().decode([MembershipEvent].self, from: data) == events)
    }
}
