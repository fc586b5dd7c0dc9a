@testable import Mortar
import MortarCore
import MortarTesting
import NIOCore
import Testing

/// Read-ahead: sequential readers are served from windows fetched ahead, and never see bytes older than this
/// process's own changes, a lock it took, or `Limits.readAheadStaleMilliseconds`.
@Suite("Read-ahead")
struct ReadAheadTests {
    @Test("a sequential reader is served from windows, and reads the file exactly")
    func sequentialReaderIsServedFromWindows() async throws {
        let (volume, harness) = MemoryVolume.make(over: MemoryFileSystem())
        let size = 6 << 20 + 12_345
        let content = MemoryVolume.pattern(size)
        try await MemoryVolume.writeFile("/big", content, in: volume)
        let file = try await volume.open("/big")
        harness.clearRecorded()
        var read: [UInt8] = []
        var calls = 0
        while true {
            let data = try await file.read(count: 64 << 10)
            calls += 1
            if data.readableBytes == 0 { break }
            read += Array(buffer: data)
        }
        #expect(read == content)
        // Without read-ahead every call is one read; with it, windows of 256 KiB doubling to 8 MiB, in pieces of
        // at most 1 MiB.
        let reads = harness.count(of: .read)
        #expect(reads < calls / 4, "\(reads) reads reached the file system for \(calls) calls")
        try await file.close()
        #expect(volume.readAheadByteCount == 0, "a closed file still holds \(volume.readAheadByteCount) bytes")
    }

    @Test("reads into caller memory (the C ABI's path) read the same bytes")
    func readsIntoCallerMemory() async throws {
        let (volume, harness) = MemoryVolume.make(over: MemoryFileSystem())
        let content = MemoryVolume.pattern(3 << 20 + 100)
        try await MemoryVolume.writeFile("/big", content, in: volume)
        let file = try await volume.open("/big")
        harness.clearRecorded()
        var read: [UInt8] = []
        var offset: UInt64 = 0
        var calls = 0
        let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: 100_000, alignment: 16)
        defer { memory.deallocate() }
        while true {
            let count = try await file.read(into: memory, at: offset)
            calls += 1
            if count == 0 { break }
            read += memory[0..<count]
            offset += UInt64(count)
        }
        #expect(read == content)
        #expect(harness.count(of: .read) < calls / 2, "\(harness.count(of: .read)) reads for \(calls) calls")
        try await file.close()
    }

    @Test("random readers get exactly the reads they ask for")
    func randomReadersAreNotReadAhead() async throws {
        let (volume, harness) = MemoryVolume.make(over: MemoryFileSystem())
        let content = MemoryVolume.pattern(4 << 20)
        try await MemoryVolume.writeFile("/big", content, in: volume)
        let file = try await volume.open("/big")
        harness.clearRecorded()
        var generator = SplitMix64(seed: 7)
        for _ in 0..<200 {
            let offset = Int.random(in: 0..<(content.count - 4096), using: &generator) / 4096 * 4096
            let data = try await file.read(count: 4096, at: UInt64(offset))
            #expect(Array(buffer: data) == Array(content[offset..<(offset + 4096)]))
        }
        #expect(harness.count(of: .read) == 200)
        #expect(volume.readAheadByteCount == 0)
        try await file.close()
    }

    @Test("a change through this volume is read at once, from any open file")
    func ownChangesAreSeenAtOnce() async throws {
        let (volume, _) = MemoryVolume.make(over: MemoryFileSystem())
        let content = MemoryVolume.pattern(2 << 20)
        try await MemoryVolume.writeFile("/big", content, in: volume)
        let reader = try await volume.open("/big")
        let writer = try await volume.open("/big", flags: .readWrite)
        for index in 0..<3 { _ = try await reader.read(count: 4096, at: UInt64(index * 4096)) }
        #expect(volume.readAheadByteCount > 0, "the reader holds no window")
        // Ahead of the reader, inside its window.
        try await writer.write([UInt8](repeating: 0xAB, count: 4096), at: 4 * 4096)
        _ = try await reader.read(count: 4096, at: 3 * 4096)
        let changed = try await reader.read(count: 4096, at: 4 * 4096)
        #expect(Array(buffer: changed) == [UInt8](repeating: 0xAB, count: 4096))
        // A truncate too.
        try await writer.truncate(to: 6 * 4096)
        let tail = try await reader.read(count: 4096 * 4, at: 5 * 4096)
        #expect(tail.readableBytes == 4096)
        try await reader.close()
        try await writer.close()
    }

    @Test("another client's change is seen after a lock, or once the window is older than the bound")
    func otherClientsChanges() async throws {
        let fileSystem = MemoryFileSystem()
        let (reading, _) = MemoryVolume.make(over: fileSystem)
        let (writing, _) = MemoryVolume.make(over: fileSystem)
        let content = MemoryVolume.pattern(2 << 20)
        try await MemoryVolume.writeFile("/big", content, in: writing)
        let reader = try await reading.open("/big", flags: .readWrite)
        for index in 0..<3 { _ = try await reader.read(count: 4096, at: UInt64(index * 4096)) }
        #expect(reading.readAheadByteCount > 0, "the reader holds no window")
        let writer = try await writing.open("/big", flags: .readWrite)
        try await writer.write([UInt8](repeating: 0xCD, count: 4096), at: 3 * 4096)
        // Within the bound the window may still answer; after a lock it may not.
        try await reader.lock(LockRequest(kind: .read, start: 0, length: 0, owner: 1, processID: 1))
        let afterLock = try await reader.read(count: 4096, at: 3 * 4096)
        #expect(Array(buffer: afterLock) == [UInt8](repeating: 0xCD, count: 4096))
        try await reader.close()
        try await writer.close()
    }

    @Test("O_DIRECT opens and a volume with read-ahead off read exactly what is asked")
    func directAndOff() async throws {
        let (volume, harness) = MemoryVolume.make(over: MemoryFileSystem())
        try await MemoryVolume.writeFile("/big", MemoryVolume.pattern(1 << 20), in: volume)
        let direct = try await volume.open("/big", flags: [.read, .direct])
        harness.clearRecorded()
        for index in 0..<16 { _ = try await direct.read(count: 4096, at: UInt64(index * 4096)) }
        #expect(harness.count(of: .read) == 16)
        try await direct.close()
        volume.readsAhead = false
        let plain = try await volume.open("/big")
        harness.clearRecorded()
        for index in 0..<16 { _ = try await plain.read(count: 4096, at: UInt64(index * 4096)) }
        #expect(harness.count(of: .read) == 16)
        try await plain.close()
    }

    @Test("windows of many open files stay within the volume's budget")
    func volumeBudget() async throws {
        let (volume, _) = MemoryVolume.make(over: MemoryFileSystem())
        let content = MemoryVolume.pattern(12 << 20)
        try await MemoryVolume.writeFile("/big", content, in: volume)
        var files: [File] = []
        for _ in 0..<12 { files.append(try await volume.open("/big")) }
        // Every file reads sequentially until its window is as large as it gets.
        for step in 0..<40 {
            for file in files {
                let data = try await file.read(count: 256 << 10, at: UInt64(step * (256 << 10)))
                let start = step * (256 << 10)
                #expect(Array(buffer: data) == Array(content[start..<min(content.count, start + (256 << 10))]))
                #expect(volume.readAheadByteCount <= Limits.readAheadVolumeByteCountMax)
            }
        }
        #expect(volume.readAheadByteCount > 0)
        for file in files { try await file.close() }
        #expect(volume.readAheadByteCount == 0)
    }

    // MARK: The window alone

    @Test("a window is not served once it is older than the bound or a change moved the generation")
    func windowFreshness() {
        var window = ReadAheadWindow()
        let start = ContinuousClock.now
        // A read at the start counts as sequential: the second read in a row fetches.
        #expect(window.plan(offset: 0, count: 4096, generation: 0, now: start) == .passThrough)
        guard case .fetch(let requested) = window.plan(offset: 4096, count: 4096, generation: 0, now: start) else {
            Issue.record("the second sequential read fetched no window")
            return
        }
        #expect(requested == Limits.readAheadInitialByteCount)
        let piece = ByteBuffer(bytes: MemoryVolume.pattern(requested))
        _ = window.fetched(offset: 4096, count: 4096, requested: requested, pieces: [piece], generation: 0, at: start)
        _ = window.plan(offset: 8192, count: 4096, generation: 0, now: start)
        guard case .serve = window.plan(offset: 12288, count: 4096, generation: 0, now: start) else {
            Issue.record("a fresh window did not serve")
            return
        }
        var changed = window
        #expect(changed.plan(offset: 16384, count: 4096, generation: 1, now: start) != .serve(ByteBuffer()))
        #expect(changed.fetched == nil)
        let late = start + .milliseconds(Limits.readAheadStaleMilliseconds)
        if case .serve = window.plan(offset: 16384, count: 4096, generation: 0, now: late) {
            Issue.record("a window as old as the bound was served")
        }
        #expect(window.fetched == nil)
    }

    @Test("offsets near the end of the offset space pass through instead of overflowing")
    func windowAtTheEndOfTheOffsetSpace() {
        var window = ReadAheadWindow()
        let now = ContinuousClock.now
        for step in 0..<4 {
            let offset = UInt64.max - 4096 * UInt64(4 - step)
            #expect(window.plan(offset: offset, count: 4096, generation: 0, now: now) == .passThrough)
        }
        #expect(window.plan(offset: UInt64.max, count: 4096, generation: 0, now: now) == .passThrough)
    }

    @Test("a short fetch marks the end of the file, and reads past it are empty")
    func windowAtEndOfFile() {
        var window = ReadAheadWindow()
        let now = ContinuousClock.now
        _ = window.plan(offset: 0, count: 100, generation: 0, now: now)
        _ = window.plan(offset: 100, count: 100, generation: 0, now: now)
        #expect(window.plan(offset: 0, count: 100, generation: 0, now: now) == .passThrough, "a read back is not sequential")
        _ = window.plan(offset: 100, count: 100, generation: 0, now: now)
        guard case .fetch(let requested) = window.plan(offset: 200, count: 100, generation: 0, now: now) else {
            Issue.record("no fetch")
            return
        }
        let data = window.fetched(
            offset: 200, count: 100, requested: requested, pieces: [ByteBuffer(bytes: MemoryVolume.pattern(150))],
            generation: 0, at: now)
        #expect(data.readableBytes == 100)
        #expect(window.plan(offset: 300, count: 100, generation: 0, now: now) == .serve(ByteBuffer(bytes: MemoryVolume.pattern(150)[100...])))
        #expect(window.plan(offset: 350, count: 100, generation: 0, now: now) == .serve(ByteBuffer()))
    }
}
