import MortarCore
import MortarVolumeSpec

/// Growing a layout, and the generations of one directory's layout. Pure functions.
///
/// Invariants, checked by `LayoutGenerationTests` over seeded random histories:
/// - every generation covers the hash space exactly once (``Layout/init(ranges:)`` accepts it);
/// - growing from `n` to `n + k` children moves exactly the hashes the new children now hold, and no hash moves
///   between two old children;
/// - after growing, each child holds `1 / (n + k)` of the space, to within one hash per range it was cut from.
extension Layout {
    /// The layout after `added` children (numbered `childCount..<childCount + added`) join this one of
    /// `childCount` children. Each old child gives up `added / (childCount + added)` of what it holds, cut from
    /// the top of its highest ranges, and splits it evenly among the new children (starting at a different new
    /// child for each old one, so that rounding does not always favour the same).
    public func grown(childCount: Int, adding added: Int) -> Layout {
        precondition(added >= 1 && childCount >= 1, "growing \(childCount) children by \(added)")
        let total = UInt64(childCount + added)
        var result: [Range] = []
        for child in 0..<childCount {
            let owned = ranges.filter { $0.childIndex == child }
            let held = owned.reduce(UInt64(0)) { $0 + $1.width }
            var toGive = held * UInt64(added) / total
            // Cut from the top: walk this child's ranges from the highest down.
            var given: [Range] = []
            for range in owned.reversed() {
                guard toGive > 0 else {
                    result.append(range)
                    continue
                }
                if range.width <= toGive {
                    given.insert(range, at: 0)
                    toGive -= range.width
                } else {
                    let split = UInt32(UInt64(range.end) - toGive + 1)
                    result.append(Range(childIndex: child, start: range.start, end: split - 1))
                    given.insert(Range(childIndex: child, start: split, end: range.end), at: 0)
                    toGive = 0
                }
            }
            result += Self.share(given, among: childCount..<(childCount + added), startingAt: child % added)
        }
        return Layout(merging: result)
    }

    /// `pieces` (ascending, disjoint) handed out in `children.count` consecutive shares of equal width (the last
    /// share takes the remainder), the first share to `children[start]`, then the next children in turn.
    static func share(_ pieces: [Range], among children: Swift.Range<Int>, startingAt start: Int) -> [Range] {
        let total = pieces.reduce(UInt64(0)) { $0 + $1.width }
        let shareWidth = total / UInt64(children.count)
        var result: [Range] = []
        var shareIndex = 0
        var leftInShare = shareWidth
        for piece in pieces {
            var start64 = UInt64(piece.start)
            let end64 = UInt64(piece.end)
            while start64 <= end64 {
                let isLast = shareIndex == children.count - 1
                let take = isLast ? end64 - start64 + 1 : min(leftInShare, end64 - start64 + 1)
                if take > 0 {
                    let owner = children.lowerBound + (start + shareIndex) % children.count
                    result.append(
                        Range(childIndex: owner, start: UInt32(start64), end: UInt32(start64 + take - 1)))
                    start64 += take
                    leftInShare -= isLast ? 0 : take
                }
                if !isLast, leftInShare == 0 {
                    shareIndex += 1
                    leftInShare = shareWidth
                }
            }
        }
        return result
    }

    /// A layout from ranges known to cover the space once, in any order, with neighbours of one child joined.
    init(merging ranges: [Range]) {
        var merged: [Range] = []
        for range in ranges.sorted(by: { $0.start < $1.start }) {
            if let last = merged.last, last.childIndex == range.childIndex, UInt64(last.end) + 1 == UInt64(range.start) {
                merged[merged.count - 1].end = range.end
            } else {
                merged.append(range)
            }
        }
        self.init(validatedRanges: merged)
    }

    /// Every generation of `directory`'s layout under `history`, oldest first.
    public static func generations(_ history: LayoutHistory, directory: FileID) -> [Layout] {
        var layouts = [Layout.default(childCount: history.initialChildCount, directory: directory)]
        var childCount = history.initialChildCount
        for change in history.changes {
            switch change {
            case .added(let added):
                layouts.append(layouts[layouts.count - 1].grown(childCount: childCount, adding: added))
                childCount += added
            }
        }
        return layouts
    }

    /// Which of the first generation's rotations `directory` has: directories of one rotation share every
    /// generation's layout, so a distribute layer computes each rotation once.
    public static func rotation(of directory: FileID, initialChildCount: Int) -> Int {
        Int(directoryHash(directory) % UInt64(initialChildCount))
    }
}

extension Layout.Range {
    /// How many hashes the range holds (1 to 2³²).
    public var width: UInt64 { UInt64(end) - UInt64(start) + 1 }
}

extension LayoutHistory {
    /// Checks a history from a spec (the manager's, so a remote value) before a distribute layer computes with
    /// it: `childCount` children in all, every count in range, and no more changes than
    /// ``Limits/layoutChangesMax``.
    public func validate(childCount expected: Int) throws(FileSystemError) {
        guard (1...Limits.bricksPerVolumeMax).contains(initialChildCount),
            changes.count <= Limits.layoutChangesMax
        else {
            throw FileSystemError.invalidArgument(
                "layout history of \(initialChildCount) children and \(changes.count) changes is out of range")
        }
        var count = initialChildCount
        for change in changes {
            switch change {
            case .added(let added):
                guard added >= 1, count + added <= Limits.bricksPerVolumeMax else {
                    throw FileSystemError.invalidArgument("layout change adds \(added) children to \(count)")
                }
                count += added
            }
        }
        guard count == expected else {
            throw FileSystemError.invalidArgument(
                "layout history ends with \(count) children, the distribute layer has \(expected)")
        }
    }
}
