@testable import Mortar
import MortarCore
import MortarTesting
import NIOCore
import Testing

/// A head fetched with an open by FileID (`Volume.openFetchingHead`), as the FUSE mount opens small files: one
/// exchange, reads inside it answered without the brick, and never once a change or the staleness bound has
/// passed.
@Suite("A file's head fetched with its open")
struct FileHeadTests {
    private static func smallFile(_ size: Int, in volume: Volume) async throws -> (FileID, [UInt8]) {
        let content = MemoryVolume.pattern(size, seed: 3)
        try await MemoryVolume.writeFile("/small", content, in: volume)
        return (try await volume.attributes("/small").id, content)
    }

    @Test("the open is one exchange, and reads inside the file (and at its end) come from the head")
    func readsComeFromTheHead() async throws {
        let (volume, harness) = MemoryVolume.make(over: MemoryFileSystem())
        for size in [0, 1, 4096, Limits.quickReadByteCountMax - 1] {
            let (id, content) = try await Self.smallFile(size, in: volume)
            harness.clearRecorded()
            let opened = try await volume.openFetchingHead(id, flags: .read, context: OperationContext())
            let head = try #require(opened.head, "size \(size)")
            #expect(harness.recorded == [.openAndRead], "size \(size)")
            #expect(volume.readAheadByteCount == size, "the budget holds what came back, not what was asked")
            // The kernel asks for more than the file holds: the head knows where the file ends.
            let whole = try #require(head.read(at: 0, count: 128 << 10))
            #expect(Array(buffer: whole) == content)
            if size > 10 {
                let middle = try #require(head.read(at: 5, count: 5))
                #expect(Array(buffer: middle) == Array(content[5..<10]))
            }
            #expect(head.read(at: UInt64(size), count: 4096)?.readableBytes == 0, "end of file")
            #expect(head.read(at: UInt64(size) + 100_000, count: 4096)?.readableBytes == 0, "past the end")
            try await volume.stack.release(opened.file, context: OperationContext())
        }
    }

    @Test("a larger file's head answers only reads inside it")
    func largerFile() async throws {
        let (volume, _) = MemoryVolume.make(over: MemoryFileSystem())
        let (id, content) = try await Self.smallFile(Limits.quickReadByteCountMax + 10, in: volume)
        let opened = try await volume.openFetchingHead(id, flags: .read, context: OperationContext())
        let head = try #require(opened.head)
        let first = try #require(head.read(at: 0, count: Limits.quickReadByteCountMax))
        #expect(Array(buffer: first) == Array(content[..<Limits.quickReadByteCountMax]))
        #expect(head.read(at: 0, count: Limits.quickReadByteCountMax + 1) == nil, "reaches past the head")
        #expect(head.read(at: UInt64(Limits.quickReadByteCountMax), count: 1) == nil, "past the head, not the file")
    }

    @Test("a change through the volume, or the staleness bound, ends the head and gives its memory back")
    func changesAndTimeEndTheHead() async throws {
        let (volume, _) = MemoryVolume.make(over: MemoryFileSystem())
        let (id, _) = try await Self.smallFile(1000, in: volume)
        let context = OperationContext()

        let first = try await volume.openFetchingHead(id, flags: .read, context: context)
        let writer = try await volume.open("/small", flags: .readWrite)
        try await writer.write(Array("changed".utf8), at: 0)
        try await writer.close()
        #expect(first.head?.read(at: 0, count: 10) == nil, "read after a write through this volume")
        #expect(first.head?.byteCount == 0)
        #expect(volume.readAheadByteCount == 0, "the stale head's memory is back in the budget")
        let reread = try await volume.stack.read(from: first.file, at: 0, count: 7, context: context)
        #expect(Array(buffer: reread) == Array("changed".utf8), "the caller reads the new bytes from the volume")

        let second = try await volume.openFetchingHead(id, flags: .read, context: context)
        let head = try #require(second.head)
        #expect(head.read(at: 0, count: 7).map { Array(buffer: $0) } == Array("changed".utf8))
        let later = ContinuousClock.now + .milliseconds(Limits.readAheadStaleMilliseconds)
        #expect(head.read(at: 0, count: 7, now: later) == nil, "older than the staleness bound")
        #expect(volume.readAheadByteCount == 0)
    }

    @Test("opens that write, O_DIRECT, read-ahead off and a spent budget open without a head")
    func otherOpensFetchNothing() async throws {
        let (volume, harness) = MemoryVolume.make(over: MemoryFileSystem())
        let (id, _) = try await Self.smallFile(100, in: volume)
        let context = OperationContext()
        for (flags, readsAhead) in [(OpenFlags.readWrite, true), ([.read, .direct], true), (.read, false)] {
            volume.readsAhead = readsAhead
            harness.clearRecorded()
            let opened = try await volume.openFetchingHead(id, flags: flags, context: context)
            #expect(opened.head == nil, "\(flags), read-ahead \(readsAhead)")
            #expect(harness.recorded == [.open], "\(flags), read-ahead \(readsAhead)")
            try await volume.stack.release(opened.file, context: context)
        }
        volume.readsAhead = true
        #expect(volume.readAheadBudget.reserve(Limits.readAheadVolumeByteCountMax))
        harness.clearRecorded()
        let opened = try await volume.openFetchingHead(id, flags: .read, context: context)
        #expect(opened.head == nil, "no memory left for a head")
        #expect(harness.recorded == [.open])
        volume.readAheadBudget.release(Limits.readAheadVolumeByteCountMax)
    }

    @Test("a head's memory goes back to the budget when the head goes")
    func memoryIsGivenBack() async throws {
        let (volume, _) = MemoryVolume.make(over: MemoryFileSystem())
        let (id, _) = try await Self.smallFile(3000, in: volume)
        var opened: (file: OpenFile, head: FileHead?)? = try await volume.openFetchingHead(
            id, flags: .read, context: OperationContext())
        #expect(volume.readAheadByteCount == 3000)
        #expect(opened?.head != nil)
        opened = nil
        #expect(volume.readAheadByteCount == 0)
    }
}
