import MortarCore
import MortarTesting
import NIOCore
import Synchronization
import Testing

/// Behaviour of the model that the conformance suite leaves open on purpose (it must also pass on real kernels).
@Suite("MemoryFileSystem specifics")
struct MemoryFileSystemTests {
    let context = OperationContext()

    func makeFile(_ fileSystem: MemoryFileSystem, _ name: String) async throws -> OpenFile {
        try await fileSystem.create(
            name, in: .root, id: .random(), permissions: 0o644, flags: [.readWrite, .create], context: context
        ).file
    }

    @Test("SEEK_DATA and SEEK_HOLE work in 4 KiB blocks")
    func seekIsExact() async throws {
        let fileSystem = MemoryFileSystem()
        let file = try await makeFile(fileSystem, "sparse")
        _ = try await fileSystem.write(ByteBuffer(bytes: [1]), to: file, at: 10, context: context)
        _ = try await fileSystem.write(ByteBuffer(bytes: [1]), to: file, at: 5 * 4096 + 7, context: context)
        let seek = { (offset: UInt64, target: SeekTarget) in
            try await fileSystem.seek(file, from: offset, to: target, context: self.context)
        }
        #expect(try await seek(0, .hole) == 4096)
        #expect(try await seek(100, .data) == 100)
        #expect(try await seek(4096, .data) == 5 * 4096)
        #expect(try await seek(5 * 4096, .hole) == 5 * 4096 + 8)
        try await fileSystem.discard(file, at: 0, length: 4096, context: context)
        #expect(try await seek(0, .data) == 5 * 4096)
        try await fileSystem.truncate(file, to: 3 * 4096, context: context)
        await #expect(throws: FileSystemError.self) { try await seek(0, .data) }
    }

    @Test("the default clock counts, and an injected clock is used")
    func clocks() async throws {
        let counting = MemoryFileSystem()
        let first = try await makeFile(counting, "one")
        let second = try await makeFile(counting, "two")
        let firstTime = try await counting.attributes(of: first.id, context: context).changeTime
        let secondTime = try await counting.attributes(of: second.id, context: context).changeTime
        #expect(firstTime < secondTime)
        let fixed = Timestamp(seconds: 1_700_000_000, nanoseconds: 42)
        let injected = MemoryFileSystem(clock: { fixed })
        let file = try await makeFile(injected, "fixed")
        #expect(try await injected.attributes(of: file.id, context: context).modificationTime == fixed)
    }

    @Test("an unlinked file disappears when its last handle is released")
    func unlinkedFileGoesAwayOnRelease() async throws {
        let fileSystem = MemoryFileSystem()
        let file = try await makeFile(fileSystem, "temporary")
        try await fileSystem.unlink("temporary", in: .root, context: context)
        #expect(try await fileSystem.attributes(ofOpen: file, context: context).linkCount == 0)
        try await fileSystem.release(file, context: context)
        await #expect(throws: FileSystemError.self) {
            try await fileSystem.attributes(of: file.id, context: self.context)
        }
        #expect(fileSystem.openHandleCount == 0)
    }

    @Test("locks are left to a server layer")
    func locksAreNotModelled() async throws {
        let fileSystem = MemoryFileSystem()
        let file = try await makeFile(fileSystem, "locked")
        let request = LockRequest(kind: .write, start: 0, length: 0, owner: 1)
        do {
            try await fileSystem.lock(file, request, wait: false, context: context)
            Issue.record("lock unexpectedly succeeded")
        } catch let error as FileSystemError {
            #expect(error.code == .notSupported)
        }
    }

    @Test("LayerHarness records operations and injects failures")
    func layerHarness() async throws {
        let harness = LayerHarness(next: MemoryFileSystem())
        harness.failNext(.lookup, count: 2, with: FileSystemError(.inputOutput, "injected"))
        for _ in 0..<2 {
            await #expect(throws: FileSystemError(.inputOutput, "injected")) {
                try await harness.lookup("x", in: .root, context: self.context)
            }
        }
        await #expect(throws: FileSystemError.self) { try await harness.lookup("x", in: .root, context: self.context) }
        _ = try await harness.attributes(of: .root, context: context)
        #expect(harness.count(of: .lookup) == 3)
        #expect(harness.recorded.last == .attributes)
    }
}
