@testable import Mortar
import MortarCore
import MortarTesting
import NIOCore
import Testing

/// Small files in one exchange: a regular file under `Limits.quickReadByteCountMax` opened for reading comes
/// back whole with its open (`openAndRead`), and its reads are served from that head with read-ahead's coherence.
@Suite("Small files in one exchange")
struct SmallFileTests {
    private func makeVolume(over fileSystem: MemoryFileSystem) -> (Volume, LayerHarness) {
        let harness = LayerHarness(next: GrantingLocks(next: fileSystem))
        return (Volume(stack: harness, name: "memory"), harness)
    }

    private struct GrantingLocks: Layer {
        let next: any FileOperations
        func lock(_ file: OpenFile, _ request: LockRequest, wait: Bool, context: OperationContext) async throws {}
    }

    private static func pattern(_ count: Int, seed: UInt8 = 0) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 % 251) &+ seed }
    }

    private func writeFile(_ path: String, _ bytes: [UInt8], in volume: Volume) async throws {
        let file = try await volume.open(path, flags: [.readWrite, .create, .truncate])
        try await file.write(bytes, at: 0)
        try await file.close()
    }

    @Test("a small file is opened and read in one exchange, and read exactly")
    func openedAndReadInOneExchange() async throws {
        let (volume, harness) = makeVolume(over: MemoryFileSystem())
        for size in [0, 1, 4096, 5_000, Limits.quickReadByteCountMax - 1] {
            let content = Self.pattern(size)
            try await writeFile("/small", content, in: volume)
            harness.clearRecorded()
            let file = try await volume.open("/small")
            // Larger than the file, as the benchmark's reader and `cat` ask: the end of the file is in the head too.
            let data = try await file.read(count: 2 * size + 10, at: 0)
            #expect(Array(buffer: data) == content, "content of a file of \(size) bytes")
            #expect(try await file.read(count: 10, at: UInt64(size)).readableBytes == 0, "end of file at \(size)")
            try await file.close()
            #expect(harness.count(of: .openAndRead) == 1, "size \(size): \(harness.recorded)")
            #expect(harness.count(of: .open) == 0 && harness.count(of: .read) == 0, "size \(size): \(harness.recorded)")
            #expect(volume.readAheadByteCount == 0, "a closed file still holds \(volume.readAheadByteCount) bytes")
        }
    }

    @Test("a larger file, an open that writes, O_DIRECT and read-ahead off open as before")
    func otherOpensAreUnchanged() async throws {
        let (volume, harness) = makeVolume(over: MemoryFileSystem())
        // As large as a head can be: a head that long could not say where the file ends.
        try await writeFile("/larger", Self.pattern(Limits.quickReadByteCountMax), in: volume)
        try await writeFile("/small", Self.pattern(100), in: volume)
        let cases: [(String, OpenFlags, Bool)] = [
            ("/larger", .read, true), ("/small", .readWrite, true), ("/small", [.read, .direct], true),
            ("/small", .read, false),
        ]
        for (path, flags, readsAhead) in cases {
            volume.readsAhead = readsAhead
            harness.clearRecorded()
            let file = try await volume.open(path, flags: flags)
            _ = try await file.read(count: 100, at: 0)
            try await file.close()
            #expect(harness.count(of: .openAndRead) == 0, "\(path) \(flags) read-ahead \(readsAhead)")
            #expect(harness.count(of: .open) == 1 && harness.count(of: .read) == 1, "\(harness.recorded)")
        }
    }

    @Test("this process's change after the open is read at once; another client's after a lock")
    func changesAfterTheOpenAreSeen() async throws {
        let fileSystem = MemoryFileSystem()
        let (volume, _) = makeVolume(over: fileSystem)
        let (other, _) = makeVolume(over: fileSystem)
        try await writeFile("/small", Self.pattern(5_000), in: volume)

        let reader = try await volume.open("/small")
        let writer = try await volume.open("/small", flags: .readWrite)
        try await writer.write([UInt8](repeating: 0xAB, count: 100), at: 10)
        let own = try await reader.read(count: 200, at: 0)
        #expect(Array(buffer: own) == Self.pattern(10) + [UInt8](repeating: 0xAB, count: 100) + Self.pattern(200)[110...])
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
        let (volume, harness) = makeVolume(over: MemoryFileSystem())
        try await writeFile("/small", Self.pattern(Limits.quickReadByteCountMax - 1), in: volume)
        let fits = Limits.readAheadVolumeByteCountMax / Limits.quickReadByteCountMax
        harness.clearRecorded()
        var files: [File] = []
        for _ in 0..<(fits + 3) { files.append(try await volume.open("/small")) }
        #expect(volume.readAheadByteCount == fits * (Limits.quickReadByteCountMax - 1))
        // Once the budget is spent, files open as before; every one reads the same bytes.
        #expect(harness.count(of: .openAndRead) == fits && harness.count(of: .open) == 3, "\(harness.recorded.count)")
        for file in files {
            #expect(Array(buffer: try await file.read(count: 100, at: 0)) == Self.pattern(100))
            try await file.close()
        }
        #expect(volume.readAheadByteCount == 0)
    }
}
