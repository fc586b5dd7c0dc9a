import MortarCore
import MortarTesting
import Testing

@testable import MortarReplicaMember

/// The heal journal's range bookkeeping, which runs for every change every member applies.
@Suite("Heal journal ranges")
struct HealJournalTests {
    /// The in-place merge (binary search, one replacement) gives what merging by hand gives: every byte covered
    /// once, ranges sorted, apart and not touching.
    @Test(arguments: [1, 2, 3] as [UInt64])
    func mergeMatchesAByteByByteReference(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        var ranges: [Range<UInt64>] = []
        var covered = Set<UInt64>()
        for _ in 0..<400 {
            let start = random.next() % 600
            let length = 1 + random.next() % 12
            HealJournal.merge(&ranges, start..<start + length)
            covered.formUnion(start..<start + length)
        }
        #expect(Set(ranges.flatMap { Array($0) }) == covered)
        #expect(ranges.reduce(0) { $0 + ($1.upperBound - $1.lowerBound) } == UInt64(covered.count))
        for (earlier, later) in zip(ranges, ranges.dropFirst()) {
            #expect(earlier.upperBound < later.lowerBound, "\(earlier) and \(later) overlap or touch")
        }
    }

    @Test func touchingRangesJoin() {
        #expect(HealJournal.merge([0..<4, 8..<12], 4..<8) == [0..<12])
        #expect(HealJournal.merge([0..<4, 8..<12], 5..<7) == [0..<4, 5..<7, 8..<12])
        #expect(HealJournal.merge([], 3..<5) == [3..<5])
        #expect(HealJournal.merge([10..<20], 0..<30) == [0..<30])
    }

    /// A member's own record is presence only: byte ranges would be merged on every write for nothing.
    @Test func ownRecordsTrackPresenceNotRanges() {
        let id = FileID.random()
        let presence = ReplicaMemberLayer.presence(of: [.bytes(id, 0..<4096), .wholeFile(id), .directory(.root)])
        #expect(presence == [.metadata(id), .metadata(id), .directory(.root)])
    }

    /// The heal worker drops a member's record when it sees the member in sync again — but not a record made in
    /// the epoch of that view: that is a miss noted while the member still looked in sync (a forward that failed,
    /// whose report has not moved the epoch yet). Dropping it let a member rejoin without that change: silent
    /// divergence, seen as one 1 MiB block missing after an incremental heal on a loaded machine.
    @Test func aMissRecordedInTheCurrentEpochIsNotForgotten() async throws {
        let journal = HealJournal(logger: OperationContext.silentLogger)
        let file = FileID.random()
        try await journal.record([.bytes(file, 0..<(1 << 20))], for: [2], epoch: 7)
        await journal.forget(member: 2, recordedBefore: 7)
        #expect(!journal.isEmpty(for: 2), "a miss recorded in epoch 7 was dropped by a view of epoch 7")
        await journal.forget(member: 2, recordedBefore: 8)
        #expect(journal.isEmpty(for: 2), "a rejoin in a later epoch drops what was healed")
        try await journal.record([.bytes(file, 0..<4096)], for: [1], epoch: 3)
        try await journal.record([.bytes(file, 4096..<8192)], for: [1], epoch: 9)
        await journal.forget(member: 1, recordedBefore: 5)
        #expect(!journal.isEmpty(for: 1), "the newest record (epoch 9) keeps the member's record")
    }
}
