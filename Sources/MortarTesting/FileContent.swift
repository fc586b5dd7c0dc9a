/// The bytes of a regular file in ``MemoryFileSystem``, plus which 4 KiB blocks hold data.
///
/// The model of sparseness, chosen to behave like Linux on ext4 or xfs with 4 KiB blocks while staying simple:
/// - The file is `bytes` (always exactly `size` long); unwritten regions read as zeros.
/// - A block is *data* once any byte of it is written. Extending a file by `truncate` or `allocate` adds no data
///   blocks (Linux reports preallocated, unwritten extents as holes to SEEK_DATA/SEEK_HOLE).
/// - `discard` (punch hole) and `zeroFill` (zero range) zero the bytes and turn every block they cover *completely*
///   into a hole; partly covered blocks keep being data, as the kernel only frees whole blocks.
/// - Shrinking drops the data blocks past the new end. The end of the file is always a hole (SEEK_HOLE's
///   "virtual hole at end of file").
struct FileContent: Sendable {
    static let blockByteCount: UInt64 = 4096

    private(set) var bytes: [UInt8] = []
    private(set) var dataBlocks: Set<UInt64> = []

    var size: UInt64 { UInt64(bytes.count) }

    /// Space used, in 512-byte units, as `st_blocks` reports it.
    var usedSectors: UInt64 { UInt64(dataBlocks.count) * (Self.blockByteCount / 512) }

    func read(at offset: UInt64, count: Int) -> [UInt8] {
        guard offset < size, count > 0 else { return [] }
        let start = Int(offset)
        let end = min(bytes.count, start + count)
        return Array(bytes[start..<end])
    }

    mutating func write(_ data: [UInt8], at offset: UInt64) {
        guard !data.isEmpty else { return }
        let end = Int(offset) + data.count
        if end > bytes.count { bytes.append(contentsOf: repeatElement(0, count: end - bytes.count)) }
        bytes.replaceSubrange(Int(offset)..<end, with: data)
        for block in Self.blocks(touching: offset, length: UInt64(data.count)) { dataBlocks.insert(block) }
    }

    mutating func resize(to newSize: UInt64) {
        let newCount = Int(newSize)
        if newCount < bytes.count {
            bytes.removeSubrange(newCount...)
            let firstDropped = (newSize + Self.blockByteCount - 1) / Self.blockByteCount
            dataBlocks = dataBlocks.filter { $0 < firstDropped }
        } else if newCount > bytes.count {
            bytes.append(contentsOf: repeatElement(0, count: newCount - bytes.count))
        }
    }

    /// Zeros `offset..<offset+length` (clipped to the size) and makes the blocks it covers completely into holes.
    mutating func punchHole(at offset: UInt64, length: UInt64) {
        let end = min(size, offset &+ length < offset ? UInt64.max : offset + length)
        if offset < end {
            for index in Int(offset)..<Int(end) { bytes[index] = 0 }
        }
        let firstWhole = offset / Self.blockByteCount + (offset % Self.blockByteCount == 0 ? 0 : 1)
        let requestedEnd = offset &+ length < offset ? UInt64.max : offset + length
        let endWhole = requestedEnd / Self.blockByteCount
        guard firstWhole < endWhole else { return }
        dataBlocks = dataBlocks.filter { $0 < firstWhole || $0 >= endWhole }
    }

    /// SEEK_DATA: the first offset at or after `offset` inside a data block, or `nil` when only holes follow.
    func nextData(from offset: UInt64) -> UInt64? {
        guard offset < size else { return nil }
        let first = offset / Self.blockByteCount
        guard let block = dataBlocks.filter({ $0 >= first }).min() else { return nil }
        return max(offset, block * Self.blockByteCount)
    }

    /// SEEK_HOLE: the first offset at or after `offset` inside a hole; the end of the file counts as one.
    func nextHole(from offset: UInt64) -> UInt64? {
        guard offset < size else { return nil }
        var block = offset / Self.blockByteCount
        while dataBlocks.contains(block) { block += 1 }
        return min(size, max(offset, block * Self.blockByteCount))
    }

    private static func blocks(touching offset: UInt64, length: UInt64) -> ClosedRange<UInt64> {
        offset / blockByteCount...(offset + length - 1) / blockByteCount
    }
}
