import MortarCore
import MortarDistribute
import Testing

@Suite("Layout")
struct LayoutTests {
    @Test("default layouts cover the hash space exactly once, one range per child", arguments: 1...64)
    func coversHashSpace(childCount: Int) throws {
        for directory in [FileID.root, FileID(high: 7, low: 9), FileID.random()] {
            let layout = Layout.default(childCount: childCount, directory: directory)
            #expect(layout.ranges.count == childCount)
            #expect(layout.ranges.first?.start == 0)
            #expect(layout.ranges.last?.end == UInt32.max)
            for (previous, next) in zip(layout.ranges, layout.ranges.dropFirst()) {
                #expect(UInt64(previous.end) + 1 == UInt64(next.start), "gap or overlap after \(previous.end)")
            }
            #expect(layout.ranges.map(\.childIndex).sorted() == Array(0..<childCount))
            for range in layout.ranges {
                #expect(layout.child(forHash: range.start) == range.childIndex)
                #expect(layout.child(forHash: range.end) == range.childIndex)
            }
            // The explicit initialiser accepts what the default produced.
            #expect(try Layout(ranges: layout.ranges.reversed()) == layout)
        }
    }

    @Test("explicit layouts with gaps or overlaps are refused")
    func refusesBrokenRanges() {
        let gap = [Layout.Range(childIndex: 0, start: 0, end: 10), .init(childIndex: 1, start: 12, end: .max)]
        let overlap = [Layout.Range(childIndex: 0, start: 0, end: 10), .init(childIndex: 1, start: 10, end: .max)]
        let short = [Layout.Range(childIndex: 0, start: 0, end: 10)]
        for ranges in [gap, overlap, short, []] {
            #expect(throws: FileSystemError.self) { try Layout(ranges: ranges) }
        }
    }

    @Test("names spread evenly", arguments: [3, 7])
    func evenDistribution(childCount: Int) {
        let layout = Layout.default(childCount: childCount, directory: .root)
        var counts = [Int](repeating: 0, count: childCount)
        let total = 100_000
        for index in 0..<total { counts[layout.child(for: "file-\(index).txt")] += 1 }
        let expected = Double(total) / Double(childCount)
        for count in counts {
            #expect(abs(Double(count) - expected) / expected < 0.03, "counts \(counts)")
        }
    }

    @Test("the name hash is frozen: golden values from an independent implementation")
    func goldenHashes() {
        let golden: [(String, UInt32)] = [
            ("", 0x5549_3646), ("a", 0x2b1c_6703), ("hello world", 0xe703_69d4), ("naïve café", 0xcc04_bcd4),
            ("file-0", 0x7aa3_8154), ("日本語", 0x2233_c844),
        ]
        for (name, hash) in golden {
            #expect(Layout.nameHash(name) == hash, "hash of '\(name)'")
        }
    }

    @Test("layouts are deterministic and rotate between directories")
    func determinismAndRotation() {
        let directory = FileID(high: 0x1234, low: 0x5678)
        #expect(
            Layout.default(childCount: 5, directory: directory) == Layout.default(childCount: 5, directory: directory))
        var firstChildren: Set<Int> = []
        for index in 0..<200 {
            let layout = Layout.default(childCount: 3, directory: FileID(high: UInt64(index), low: 99))
            firstChildren.insert(layout.ranges[0].childIndex)
        }
        #expect(firstChildren == [0, 1, 2])
    }
}
