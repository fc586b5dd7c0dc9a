import MortarCore
import MortarTesting
import NIOCore
import Synchronization
import Testing

/// One shared subject: each check works in its own directory, which is itself part of what is being checked.
private let sharedMemoryFileSystem = MemoryFileSystem()

@Suite("Conformance of MemoryFileSystem")
struct ConformanceTests {
    @Test("the suite has enough checks, with unique names")
    func suiteShape() {
        let names = FileOperationsConformance.checks.map(\.name)
        #expect(names.count >= 30)
        #expect(Set(names).count == names.count)
    }

    @Test(arguments: FileOperationsConformance.checks)
    func check(_ check: ConformanceCheck) async throws {
        try await check.run(sharedMemoryFileSystem)
    }

    @Test(arguments: FileOperationsConformance.checks)
    func checkOnFreshFileSystem(_ check: ConformanceCheck) async throws {
        let fileSystem = MemoryFileSystem()
        try await check.run(fileSystem)
        #expect(fileSystem.openHandleCount == 0, "check \(check.name) left handles open")
    }
}

@Suite("RandomOperationSequence")
struct RandomOperationSequenceTests {
    /// A seed must replay the same sequence (a failure's seed is only useful if it reproduces it), and a sequence
    /// must reach most operations, on both their success and their error paths. (Comparing the model with a second
    /// copy of itself, as this test once did, could not fail.)
    @Test(arguments: [1, 2, 3, 0xDEAD_BEEF, 0x5EED_0000_0000_0005] as [UInt64])
    func aSeedReplaysAVariedSequence(seed: UInt64) async throws {
        let sequence = RandomOperationSequence(seed: seed, stepCount: 300)
        let first = try await sequence.run(subject: MemoryFileSystem(), reference: MemoryFileSystem())
        let again = try await sequence.run(subject: MemoryFileSystem(), reference: MemoryFileSystem())
        #expect(first.successes == again.successes && first.failures == again.failures,
                "seed \(seed) gave two different sequences: \(first) then \(again)")
        let kinds = Set(first.successes.keys).union(first.failures.keys)
        #expect(kinds.count >= 10, "seed \(seed) reached only \(kinds.sorted())")
        #expect(first.successes.values.reduce(0, +) > 0 && first.failures.values.reduce(0, +) > 0,
                "seed \(seed) never reached an error path (or never succeeded): \(first)")
    }

    @Test("a subject that corrupts one read is caught, with seed and step in the message")
    func catchesDivergence() async throws {
        var caught: ConformanceFailure?
        for seed: UInt64 in 1...5 where caught == nil {
            let subject = CorruptingLayer(next: MemoryFileSystem())
            do {
                try await RandomOperationSequence(seed: seed, stepCount: 300).run(
                    subject: subject, reference: MemoryFileSystem())
            } catch let failure as ConformanceFailure {
                caught = failure
            }
        }
        let failure = try #require(caught)
        #expect(failure.message.contains("seed="))
        #expect(failure.message.contains("step="))
        #expect(failure.message.contains("read("))
    }
}

/// Flips the first byte of the first non-empty read, and forwards everything else unchanged.
private final class CorruptingLayer: Layer {
    let next: any FileOperations
    private let corrupted = Mutex(false)

    init(next: any FileOperations) {
        self.next = next
    }

    func read(from file: OpenFile, at offset: UInt64, count: Int, context: OperationContext) async throws
        -> ByteBuffer
    {
        var buffer = try await next.read(from: file, at: offset, count: count, context: context)
        guard buffer.readableBytes > 0,
            !corrupted.withLock({ alreadyDone in
                defer { alreadyDone = true }
                return alreadyDone
            })
        else { return buffer }
        let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) ?? 0
        buffer.setInteger(first ^ 0xFF, at: buffer.readerIndex)
        return buffer
    }
}
