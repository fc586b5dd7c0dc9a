import MortarCore
import MortarMembership
import Testing

@Suite struct ReplicaSetViewTests {
    @Test func primariesSpreadAndMoveOnlyWithTheirMember() {
        var view = ReplicaSetView(setIndex: 0, memberCount: 3, minInSync: 2)
        var generator = SystemRandomNumberGenerator()
        let files = (0..<3_000).map { _ in FileID.random(using: &generator) }
        let before = files.map { view.primary(for: $0)! }
        for member in 0..<3 {
            let share = before.filter { $0 == member }.count
            #expect(share > 800 && share < 1_200, "member \(member) is primary for \(share) of 3000 files")
        }
        view.members[1] = .outOfSync
        let after = files.map { view.primary(for: $0)! }
        for (old, new) in zip(before, after) {
            #expect(new != 1)
            if old != 1 { #expect(new == old, "a file whose primary stayed in sync moved") }
        }
    }

    @Test func writableOnlyWithEnoughInSyncMembers() {
        var view = ReplicaSetView(setIndex: 0, memberCount: 3, minInSync: 2)
        #expect(view.isWritable)
        view.members[0] = .outOfSync
        #expect(view.isWritable)
        view.members[2] = .healing
        #expect(!view.isWritable)
        #expect(view.forwardTargets(from: 1) == [2])
        #expect(view.primary(for: .root) == 1)
    }
}
