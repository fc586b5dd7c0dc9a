@testable import Mortar
import MortarCore
import MortarTesting
import NIOCore
import Testing

/// Small files in one exchange: a regular file opened for reading is looked up, opened and its first
/// `Limits.quickReadByteCountMax` bytes read in one request (`lookupAndRead`; `openAndRead` by FileID when the
/// lookup could not open it), and its reads are served from that head with read-ahead's coherence.
@Suite("Small files in one exchange")
struct SmallFileTests {
    @Test("a small file is looked up, opened and read in one exchange, and read exactly")
    func openedAndReadInOneExchange() async throws {
        let (volume, harness) = MemoryVolume.make(over: MemoryFileSystem())
        _ = try await volume.makeDirectory("/d")
        for size in [0, 1, 4096, 5_000, Limits.quickReadByteCountMax - 1] {
            let content = MemoryVolume.pattern(size)
            try await MemoryVolume.writeFile("/d/small", content, in: volume)
            _ = try await volume.attributes("/d")  // the directory is remembered: only the file's name is looked up
            harness.clearRecorded()
            let file = try await volume.open("/d/small")
            // Larger than the file, as the benchmark's reader and `cat` ask: the end of the file is in the head too.
            let data = try await file.read(count: 2 * size + 10, at: 0)
            #expect(Array(buffer: data) == content, "content of a file of \(size) bytes")
            #expect(try await file.read(count: 10, at: UInt64(size)).readableBytes == 0, "end of file at \(size)")
            try await file.close()
            #expect(harness.recorded == [.lookupAndRead, .release], "size \(size)")
            #expect(volume.readAheadByteCount == 0, "a closed file still holds \(volume.readAheadByteCount) bytes")
        }
    }

    @Test("a larger file's head is served, and what lies past it is read")
    func largerFileHead() async throws {
        let (volume, harness) = MemoryVolume.make(over: MemoryFileSystem())
        let content = MemoryVolume.pattern(Limits.quickReadByteCountMax + 5_000)
        try await MemoryVolume.writeFile("/larger", content, in: volume)
        harness.clearRecorded()
        let file = try await volume.open("/larger")
        let head = try await file.read(count: Limits.quickReadByteCountMax, at: 0)
        #expect(Array(buffer: head) == Array(content[..<Limits.quickReadByteCountMax]))
        #expect(harness.recorded == [.lookupAndRead])
        let past = try await file.read(count: 10_000, at: UInt64(Limits.quickReadByteCountMax))
        #expect(Array(buffer: past) == Array(content[Limits.quickReadByteCountMax...]))
        #expect(harness.count(of: .read) == 1)
        try await file.close()
    }

    @Test("an open that writes, O_DIRECT and read-ahead off open as before")
    func otherOpensAreUnchanged() async throws {
        let (volume, harness) = MemoryVolume.make(over: MemoryFileSystem())
        try await MemoryVolume.writeFile("/small", MemoryVolume.pattern(100), in: volume)
        let cases: [(OpenFlags, Bool)] = [(.readWrite, true), ([.read, .direct], true), (.read, false)]
        for (flags, readsAhead) in cases {
            volume.readsAhead = readsAhead
            harness.clearRecorded()
            let file = try await volume.open("/small", flags: flags)
            _ = try await file.read(count: 100, at: 0)
            try await file.close()
            #expect(harness.recorded == [.lookup, .open, .read, .release], "\(flags) read-ahead \(readsAhead)")
        }
    }

    /// Stands for a brick that finds the name but does not open it (a replica member that is not the file's
    /// primary, a caller without read permission): it gives the handle back and answers the lookup alone.
    private struct FindingOnly: Layer {
        let next: any FileOperations
        func lookupAndRead(
            _ name: String, in parent: FileID, flags: OpenFlags, count: Int, context: OperationContext
        ) async throws -> FoundFile {
            let found = try await next.lookupAndRead(name, in: parent, flags: flags, count: count, context: context)
            if let opened = found.opened { try await next.release(opened.file, context: context) }
            return FoundFile(attributes: found.attributes, opened: nil)
        }
    }

    @Test("a name found but not opened is opened by FileID with its head; a symbolic link is followed")
    func foundButNotOpened() async throws {
        let fileSystem = MemoryFileSystem()
        let harness = LayerHarness(next: FindingOnly(next: fileSystem))
        let volume = Volume(stack: harness, name: "memory")
        try await MemoryVolume.writeFile("/small", MemoryVolume.pattern(300), in: volume)
        harness.clearRecorded()
        let file = try await volume.open("/small")
        #expect(Array(buffer: try await file.read(count: 1000, at: 0)) == MemoryVolume.pattern(300))
        try await file.close()
        #expect(harness.recorded == [.lookupAndRead, .openAndRead, .release])

        let (plain, _) = MemoryVolume.make(over: fileSystem)
        _ = try await plain.makeSymbolicLink("/link", target: "small")
        let viaLink = try await plain.open("/link")
        #expect(Array(buffer: try await viaLink.read(count: 1000, at: 0)) == MemoryVolume.pattern(300))
        try await viaLink.close()
        let error = await #expect(throws: FileSystemError.self) { _ = try await plain.open("/absent") }
        #expect(error?.code == .notFound && error?.message.contains("/absent") == true)
    }

    @Test("this process's change after the open is read at once; another client's after a lock")
    func changesAfterTheOpenAreSeen() async throws {
        let fileSystem = MemoryFileSystem()
        let (volume, _) = MemoryVolume.make(over: fileSystem)
        let (other, _) = MemoryVolume.make(over: fileSystem)
        try await MemoryVolume.writeFile("/small", MemoryVolume.pattern(5_000), in: volume)

        let reader = try await volume.open("/small")
        let writer = try await volume.open("/small", flags: .readWrite)
        try await writer.write([UInt8](repeating: 0xAB, count: 100), at: 10)
        let own = try await reader.read(count: 200, at: 0)
        #expect(Array(buffer: own) == MemoryVolume.pattern(10) + [UInt8](repeating: 0xAB, count: 100) + MemoryVolume.pattern(200)[110...])
        try await writer.close()
        try await reader.close()

        let second = try await volume.open("/small")
        let elsewhere = try await other.open("/small", flags: .readWrite)
        try await elsewhere.write([UInt8](repeating: 0xCD, count: 10), at: 0)
        try await elsewhere.close()
        try await second.lock(LockRequest(kind: .read, start: 0, length: 0, owner: 1, processID: 1))
        let afterLock = try await second.read(count: 10, at: 0)
        #expect(Array(buffer: afterLock) == [UInt8](repeating: 0xCD, count: 10))
        try await second.close()
    }

    @Test("a head is held within the volume's read-ahead budget, and given back on close")
    func headsAreBudgeted() async throws {
        let (volume, harness) = MemoryVolume.make(over: MemoryFileSystem())
        try await MemoryVolume.writeFile("/small", MemoryVolume.pattern(Limits.quickReadByteCountMax - 1), in: volume)
        let fits = Limits.readAheadVolumeByteCountMax / Limits.quickReadByteCountMax
        harness.clearRecorded()
        var files: [File] = []
        for _ in 0..<(fits + 3) { files.append(try await volume.open("/small")) }
        #expect(volume.readAheadByteCount == fits * (Limits.quickReadByteCountMax - 1))
        // Once the budget is spent, files open as before; every one reads the same bytes.
        #expect(harness.count(of: .lookupAndRead) == fits && harness.count(of: .open) == 3, "\(harness.recorded.count)")
        for file in files {
            #expect(Array(buffer: try await file.read(count: 100, at: 0)) == MemoryVolume.pattern(100))
            try await file.close()
        }
        #expect(volume.readAheadByteCount == 0)
    }
}
