import MortarCore

/// How one directory's names are spread over the distribute layer's children: the 32-bit hash space cut into
/// contiguous ranges, one per child (GlusterFS's DHT layout). A pure value: placement decisions are made here and
/// nowhere else.
///
/// Ranges are stored explicitly rather than computed, so that a rebalance can later write layouts that are not
/// the default (uneven ranges, a child added or drained).
public struct Layout: Sendable, Hashable {
    /// Hashes `start...end` (both inclusive) belong to the child at `childIndex`.
    public struct Range: Sendable, Hashable {
        public var childIndex: Int
        public var start: UInt32
        public var end: UInt32

        public init(childIndex: Int, start: UInt32, end: UInt32) {
            self.childIndex = childIndex
            self.start = start
            self.end = end
        }
    }

    /// The ranges in order of `start`; together they cover `0...UInt32.max` exactly once.
    public let ranges: [Range]

    /// A layout from explicit ranges, in any order. Throws EINVAL unless they cover the hash space exactly once.
    public init(ranges: [Range]) throws {
        let sorted = ranges.sorted { $0.start < $1.start }
        var expectedStart: UInt64 = 0
        for range in sorted {
            guard UInt64(range.start) == expectedStart, range.start <= range.end, range.childIndex >= 0 else {
                throw FileSystemError.invalidArgument(
                    "layout range \(range.start)...\(range.end) of child \(range.childIndex) leaves a gap or overlaps")
            }
            expectedStart = UInt64(range.end) + 1
        }
        guard expectedStart == 1 << 32 else {
            throw FileSystemError.invalidArgument("layout ends at \(expectedStart), not at the end of the hash space")
        }
        self.ranges = sorted
    }

    /// A layout from ranges already known to be sorted and to cover the hash space exactly once.
    init(validatedRanges ranges: [Range]) {
        self.ranges = ranges
    }

    /// Equal ranges, one per child, rotated by a hash of the directory's FileID so that different directories
    /// start on different children (otherwise child 0 would hold the first range of every directory).
    public static func `default`(childCount: Int, directory: FileID) -> Layout {
        precondition(
            childCount >= 1 && childCount <= Limits.bricksPerVolumeMax, "child count \(childCount) out of range")
        let width = (UInt64(1) << 32) / UInt64(childCount)
        let rotation = Int(directoryHash(directory) % UInt64(childCount))
        let ranges = (0..<childCount).map { position in
            let start = UInt64(position) * width
            let end = position == childCount - 1 ? UInt64(UInt32.max) : start + width - 1
            return Range(
                childIndex: (position + rotation) % childCount, start: UInt32(start), end: UInt32(end))
        }
        return Layout(validatedRanges: ranges)
    }

    /// The child that holds `name` in this directory.
    public func child(for name: String) -> Int {
        child(forHash: Self.nameHash(name))
    }

    public func child(forHash hash: UInt32) -> Int {
        var low = 0
        var high = ranges.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if ranges[middle].start <= hash { low = middle } else { high = middle - 1 }
        }
        return ranges[low].childIndex
    }

    /// The placement hash of a name. **Frozen: changing it moves every file of every volume.**
    ///
    /// FNV-1a (64-bit) over the name's UTF-8 bytes, then MurmurHash3's 64-bit finaliser to spread FNV's weak low
    /// bits, folded to 32 bits by XOR of the two halves. Names are hashed as given, with no Unicode normalisation.
    public static func nameHash(_ name: String) -> UInt32 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in name.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        let mixed = finalise(hash)
        return UInt32(truncatingIfNeeded: mixed ^ (mixed >> 32))
    }

    /// The hash that rotates a directory's default layout. Also frozen.
    static func directoryHash(_ directory: FileID) -> UInt64 {
        finalise(directory.high ^ finalise(directory.low))
    }

    /// MurmurHash3's fmix64.
    static func finalise(_ value: UInt64) -> UInt64 {
        var mixed = value
        mixed ^= mixed >> 33
        mixed &*= 0xff51_afd7_ed55_8ccd
        mixed ^= mixed >> 33
        mixed &*= 0xc4ce_b9fe_1a85_ec53
        mixed ^= mixed >> 33
        return mixed
    }
}
