import MortarCore
import MortarDistribute
import MortarTesting
import MortarVolumeSpec
import Testing

/// The invariants written at `Layout+Generations.swift`, over seeded random histories.
@Suite("Layout generations")
struct LayoutGenerationTests {
    /// Each child's share of the hash space, in hashes.
    static func holdings(_ layout: Layout, childCount: Int) -> [UInt64] {
        var held = [UInt64](repeating: 0, count: childCount)
        for range in layout.ranges { held[range.childIndex] += range.width }
        return held
    }

    @Test("growing covers the space once, moves only what the new children take, and evens the shares",
          arguments: 0..<40)
    func growing(seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        let initial = Int.random(in: 1...9, using: &random)
        var history = LayoutHistory(initialChildCount: initial)
        for _ in 0..<Int.random(in: 1...5, using: &random) {
            history.changes.append(.added(Int.random(in: 1...6, using: &random)))
        }
        let directory = FileID(high: random.next(), low: random.next())
        let generations = Layout.generations(history, directory: directory)
        #expect(generations.count == history.generationCount)

        var childCount = initial
        for (step, change) in history.changes.enumerated() {
            guard case .added(let added) = change else { continue }
            let before = generations[step]
            let after = generations[step + 1]
            // Covers the hash space exactly once: the checking initialiser accepts it.
            #expect(try Layout(ranges: after.ranges) == after)
            let total = childCount + added
            #expect(Set(after.ranges.map(\.childIndex)) == Set(0..<total), "every child holds some hashes")

            // Only hashes now held by a new child changed hands: check at every range boundary of both layouts
            // (between boundaries both are constant), and count the moved hashes.
            var boundaries = Set(before.ranges.flatMap { [$0.start, $0.end] })
            boundaries.formUnion(after.ranges.flatMap { [$0.start, $0.end] })
            for hash in boundaries {
                let old = before.child(forHash: hash)
                let new = after.child(forHash: hash)
                #expect(old == new || new >= childCount, "hash \(hash) moved from \(old) to old child \(new)")
            }
            // Shares even to within one hash per range cut, a few at most per child.
            let held = Self.holdings(after, childCount: total)
            let ideal = (UInt64(1) << 32) / UInt64(total)
            let slack = UInt64(after.ranges.count + total)
            for (child, hashes) in held.enumerated() {
                #expect(hashes + slack >= ideal && hashes <= ideal + slack,
                        "child \(child) of \(total) holds \(hashes), ideal \(ideal) ± \(slack)")
            }
            // The moved share is exactly what the new children hold: the least any even layout can move.
            let moved = held[childCount...].reduce(0, +)
            #expect(moved + slack >= UInt64(added) * ideal && moved <= UInt64(added) * ideal + slack)
            childCount = total
        }
    }

    @Test("a directory's generations depend on its rotation only, and the first is the default layout")
    func rotations() {
        let history = LayoutHistory(initialChildCount: 4, changes: [.added(2), .added(1)])
        for directory in [FileID.root, FileID(high: 1, low: 2), FileID(high: 99, low: 5)] {
            let generations = Layout.generations(history, directory: directory)
            #expect(generations[0] == Layout.default(childCount: 4, directory: directory))
            let rotation = Layout.rotation(of: directory, initialChildCount: 4)
            // Another directory of the same rotation gets the same layouts.
            var other = FileID(high: 0, low: 0)
            while Layout.rotation(of: other, initialChildCount: 4) != rotation || other == directory {
                other = FileID(high: other.high, low: other.low + 1)
            }
            #expect(Layout.generations(history, directory: other) == generations)
        }
    }

    @Test("names spread evenly over old and new children after growing 2 → 4")
    func namesAfterGrowing() {
        let history = LayoutHistory(initialChildCount: 2, changes: [.added(2)])
        let generations = Layout.generations(history, directory: .root)
        var counts = [0, 0, 0, 0]
        var moved = 0
        let names = 40_000
        for index in 0..<names {
            let name = "file-\(index)"
            let new = generations[1].child(for: name)
            counts[new] += 1
            if generations[0].child(for: name) != new { moved += 1 }
        }
        for count in counts { #expect(abs(count - names / 4) < names / 40, "counts \(counts)") }
        // Half the names move (the new children's share), within 2 %.
        #expect(abs(moved - names / 2) < names / 50, "moved \(moved) of \(names)")
    }

    @Test("histories from a spec are checked before use")
    func validation() {
        #expect(throws: Never.self) { try LayoutHistory(initialChildCount: 2, changes: [.added(2)]).validate(childCount: 4) }
        let refused: [(LayoutHistory, Int)] = [
            (LayoutHistory(initialChildCount: 0), 0),
            (LayoutHistory(initialChildCount: 2, changes: [.added(2)]), 3),
            (LayoutHistory(initialChildCount: 2, changes: [.added(0)]), 2),
            (LayoutHistory(initialChildCount: 2, changes: [.added(-1)]), 1),
            (LayoutHistory(initialChildCount: 1000, changes: [.added(100)]), 1100),
            (LayoutHistory(initialChildCount: 1, changes: Array(repeating: .added(1), count: Limits.layoutChangesMax + 1)),
             Limits.layoutChangesMax + 2),
        ]
        for (history, count) in refused {
            #expect(throws: FileSystemError.self, "\(history)") { try history.validate(childCount: count) }
        }
    }
}
