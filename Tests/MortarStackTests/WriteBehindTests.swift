@testable import Mortar
import MortarCore
import MortarTesting
import NIOCore
import Synchronization
import Testing

/// Write-behind: writes are acknowledged before the brick has them while the volume's sender runs, and nothing
/// that depends on them — a read, fsync, close, a later overlapping write — gets ahead of them; a write that fails
/// afterwards reaches the application once.
@Suite("Write-behind")
struct WriteBehindTests {
    /// Holds every write at a gate until the test opens it, fails writes at the offsets it is told, and records
    /// what reached it in order.
    final class GatedWrites: Layer, Sendable {
        let next: any FileOperations
        private struct State {
            var isOpen = false
            var gate: [CheckedContinuation<Void, Never>] = []
            var failingOffsets: Set<UInt64> = []
            var events: [String] = []
        }
        private let state = Mutex(State())

        init(next: any FileOperations) {
            self.next = next
        }

        /// Writes waiting at the closed gate.
        var heldCount: Int { state.withLock { $0.gate.count } }
        var events: [String] { state.withLock { $0.events } }

        func openGate() {
            let held = state.withLock { state in
                state.isOpen = true
                defer { state.gate.removeAll() }
                return state.gate
            }
            for write in held { write.resume() }
        }

        func fail(at offset: UInt64) {
            state.withLock { _ = $0.failingOffsets.insert(offset) }
        }

        private func record(_ event: String) {
            state.withLock { $0.events.append(event) }
        }

        func write(_ data: ByteBuffer, to file: OpenFile, at offset: UInt64, context: OperationContext) async throws
            -> Int
        {
            await withCheckedContinuation { continuation in
                let isOpen = state.withLock { state in
                    if !state.isOpen { state.gate.append(continuation) }
                    return state.isOpen
                }
                if isOpen { continuation.resume() }
            }
            if state.withLock({ $0.failingOffsets.contains(offset) }) {
                record("failed write@\(offset)")
                throw FileSystemError(.noSpace, "no space left for the write at \(offset)")
            }
            let written = try await next.write(data, to: file, at: offset, context: context)
            record("write@\(offset)")
            return written
        }

        func read(from file: OpenFile, at offset: UInt64, count: Int, context: OperationContext) async throws
            -> ByteBuffer
        {
            record("read@\(offset)")
            return try await next.read(from: file, at: offset, count: count, context: context)
        }

        func openAndRead(_ file: FileID, flags: OpenFlags, count: Int, context: OperationContext) async throws
            -> OpenedFile
        {
            record("openAndRead")
            return try await next.openAndRead(file, flags: flags, count: count, context: context)
        }

        func synchronize(_ file: OpenFile, dataOnly: Bool, context: OperationContext) async throws {
            record("synchronize")
            try await next.synchronize(file, dataOnly: dataOnly, context: context)
        }

        func release(_ file: OpenFile, context: OperationContext) async throws {
            record("release")
            try await next.release(file, context: context)
        }
    }

    private static func block(_ seed: UInt8, count: Int = 4096) -> ByteBuffer {
        ByteBuffer(bytes: (0..<count).map { UInt8(truncatingIfNeeded: $0) &+ seed })
    }

    /// Runs `body` with the volume's sender running beside it, failing (not hanging) if it takes over 60 s. When
    /// the body fails or runs out of time, `gated`'s writes are let through so the sender and the body can finish.
    private func withSender(
        _ volume: Volume, releasing gated: GatedWrites? = nil, _ body: @escaping @Sendable () async throws -> Void
    ) async throws {
        try await withThrowingTaskGroup { group in
            group.addTask { await volume.run() }
            group.addTask {
                do {
                    try await body()
                } catch {
                    gated?.openGate()
                    await volume.close()
                    throw error
                }
                await volume.close()
            }
            group.addTask {
                try await Task.sleep(for: .seconds(60))  // cancelled once the body and the sender are done
                gated?.openGate()
                throw FileSystemError(.timedOut, "the test did not finish within 60 s: a hang")
            }
            for _ in 0..<2 { try await group.next() }
            group.cancelAll()
        }
    }

    /// Waits (yielding) until `condition` holds, failing after 30 s: for a caller to be seen parked.
    static func eventually(_ what: String, _ condition: () -> Bool) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(30)
        while !condition() {
            guard clock.now < deadline else { throw FileSystemError(.timedOut, "\(what) did not happen within 30 s") }
            try await Task.sleep(for: .milliseconds(1))
        }
    }

    @Test("writes are acknowledged before the brick has them, and a read waits for them")
    func writesAreAcknowledgedEarlyAndReadsWait() async throws {
        let gated = GatedWrites(next: MemoryFileSystem())
        let volume = Volume(stack: gated, name: "memory")
        try await withSender(volume, releasing: gated) {
            let file = try await volume.create("/f")
            for index in 0..<8 {
                // With the gate closed, a write that waited for the brick would never return.
                try await file.write(Self.block(UInt8(index)), at: UInt64(index) * 4096)
            }
            #expect(volume.writeBehindByteCount == 8 * 4096)
            try await Self.eventually("the sender sending every write") { gated.heldCount == 8 }
            async let reader = file.read(count: 8 * 4096, at: 0)
            try await Self.eventually("the read waiting for the writes") { volume.writeBehind.waiterCount == 1 }
            #expect(!gated.events.contains { $0.hasPrefix("read") }, "the read went ahead of acknowledged writes")
            gated.openGate()
            var expected = ByteBuffer()
            for index in 0..<8 { expected.writeImmutableBuffer(Self.block(UInt8(index))) }
            #expect(try await reader == expected)
            #expect(volume.writeBehindByteCount == 0)
            try await file.close()
        }
    }

    @Test("a small file opened for reading (one exchange with its head) waits for the writes acknowledged before")
    func smallFileOpenWaitsForWrites() async throws {
        let gated = GatedWrites(next: MemoryFileSystem())
        let volume = Volume(stack: gated, name: "memory")
        try await withSender(volume, releasing: gated) {
            let writer = try await volume.create("/small")
            try await writer.write(Self.block(9), at: 0)
            try await Self.eventually("the sender sending the write") { gated.heldCount == 1 }
            async let reader = { () async throws -> ByteBuffer in
                let file = try await volume.open("/small")
                let data = try await file.read(count: 8192, at: 0)
                try await file.close()
                return data
            }()
            try await Self.eventually("the open waiting for the write") { volume.writeBehind.waiterCount == 1 }
            #expect(!gated.events.contains("openAndRead"), "the open went ahead of an acknowledged write")
            gated.openGate()
            #expect(try await reader == Self.block(9))
            #expect(gated.events.contains("openAndRead"), "the small file was not opened with its head")
            try await writer.close()
        }
    }

    @Test("fsync returns once every acknowledged write has landed")
    func synchronizeWaitsForEveryWrite() async throws {
        let gated = GatedWrites(next: MemoryFileSystem())
        let volume = Volume(stack: gated, name: "memory")
        try await withSender(volume, releasing: gated) {
            let file = try await volume.create("/f")
            for index in 0..<5 { try await file.write(Self.block(UInt8(index)), at: UInt64(index) * 4096) }
            async let sync: Void = file.synchronize()
            try await Self.eventually("fsync waiting for the writes") { volume.writeBehind.waiterCount == 1 }
            gated.openGate()
            try await sync
            let events = gated.events
            #expect(events.last == "synchronize", "fsync reached the brick before the writes: \(events)")
            #expect(events.filter { $0.hasPrefix("write@") }.count == 5)
            try await file.close()
        }
    }

    @Test("a write that fails after it was acknowledged fails the next write, fsync or close, once")
    func failedWriteReachesTheApplication() async throws {
        let gated = GatedWrites(next: MemoryFileSystem())
        gated.openGate()
        gated.fail(at: 8192)
        let volume = Volume(stack: gated, name: "memory")
        try await withSender(volume, releasing: gated) {
            let file = try await volume.create("/f")
            // fsync reports it, once.
            try await file.write(Self.block(1), at: 0)
            try await file.write(Self.block(2), at: 8192)
            let error = await #expect(throws: FileSystemError.self) { try await file.synchronize() }
            #expect(error?.code == .noSpace)
            try await file.synchronize()

            // The next write reports it, and is not performed.
            try await file.write(Self.block(3), at: 8192)
            try await Self.eventually("the failed write completing") { volume.writeBehindByteCount == 0 }
            let writeError = await #expect(throws: FileSystemError.self) {
                try await file.write(Self.block(4), at: 16384)
            }
            #expect(writeError?.code == .noSpace)
            #expect(!gated.events.contains("write@16384"), "the write that reported the error was performed")
            try await file.write(Self.block(5), at: 16384)

            // Close reports it, and still releases the handle.
            try await file.write(Self.block(6), at: 8192)
            let closeError = await #expect(throws: FileSystemError.self) { try await file.close() }
            #expect(closeError?.code == .noSpace)
            #expect(gated.events.last == "release")
        }
    }

    @Test("overlapping writes reach the brick in the order they were made (seeded)", arguments: [1, 2, 3, 4])
    func overlappingWritesKeepTheirOrder(seed: UInt64) async throws {
        let memory = MemoryFileSystem()
        let volume = Volume(stack: ShuffledWrites(next: memory, seed: seed), name: "memory")
        var generator = SplitMix64(seed: seed)
        var expected = [UInt8](repeating: 0, count: 64 << 10)
        var writes: [(UInt64, [UInt8])] = []
        for index in 0..<400 {
            let count = Int.random(in: 1...8192, using: &generator)
            let offset = Int.random(in: 0...(expected.count - count), using: &generator)
            let bytes = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ index) }
            expected.replaceSubrange(offset..<offset + count, with: bytes)
            writes.append((UInt64(offset), bytes))
        }
        let planned = writes
        let final = expected
        try await withSender(volume) {
            let file = try await volume.create("/f")
            _ = try await file.write([UInt8](repeating: 0, count: 64 << 10), at: 0)
            for (offset, bytes) in planned { try await file.write(bytes, at: offset) }
            let read = try await file.read(count: 64 << 10, at: 0)
            #expect(Array(buffer: read) == final)
            try await file.close()
        }
    }

    /// Delays each write by a seeded number of yields, so writes in flight finish out of order.
    final class ShuffledWrites: Layer, Sendable {
        let next: any FileOperations
        let delays: Mutex<SplitMix64>

        init(next: any FileOperations, seed: UInt64) {
            self.next = next
            self.delays = Mutex(SplitMix64(seed: seed))
        }

        func write(_ data: ByteBuffer, to file: OpenFile, at offset: UInt64, context: OperationContext) async throws
            -> Int
        {
            let yields = delays.withLock { Int.random(in: 0...20, using: &$0) }
            for _ in 0..<yields { await Task.yield() }
            return try await next.write(data, to: file, at: offset, context: context)
        }
    }

    @Test("writes go as they come without the sender, with the option off, and on synchronous or direct handles")
    func writesWaitWhenWriteBehindDoesNotApply() async throws {
        // Without the sender.
        do {
            let gated = GatedWrites(next: MemoryFileSystem())
            let volume = Volume(stack: gated, name: "memory")
            let file = try await volume.create("/f")
            try await expectWriteWaits(file, gated, volume)
            try await file.close()
            await volume.close()
        }
        // The option off, and handles that ask for synchronous or direct I/O, with the sender running.
        for flags: OpenFlags in [.readWrite, [.readWrite, .synchronous], [.readWrite, .dataSynchronous],
            [.readWrite, .direct], [.write, .append]]
        {
            let gated = GatedWrites(next: MemoryFileSystem())
            let volume = Volume(stack: gated, name: "memory")
            volume.writesBehind = flags != .readWrite  // plain read-write: the option is what is off
            try await withSender(volume, releasing: gated) {
                let file = try await volume.open("/f", flags: flags.union(.create))
                try await self.expectWriteWaits(file, gated, volume)
                try await file.close()
            }
        }
    }

    /// A write through `file` reaches the (closed) gate before it returns, and nothing is acknowledged early.
    private func expectWriteWaits(_ file: File, _ gated: GatedWrites, _ volume: Volume) async throws {
        async let writer = file.write(Self.block(9), at: 0)
        try await Self.eventually("the write reaching the brick") { gated.heldCount == 1 }
        #expect(volume.writeBehindByteCount == 0)
        gated.openGate()
        #expect(try await writer == 4096)
    }

    @Test("the window's invariants hold over a seeded run of writes, completions and failures", arguments: 1...20)
    func windowInvariantsHold(seed: UInt64) throws {
        var generator = SplitMix64(seed: seed)
        var window = WriteBehindWindow()
        window.isAccepting = true
        let files = (0..<3).map { OpenFile(id: FileID(high: 0, low: UInt64($0) + 1), handle: UInt64($0) + 100) }
        for file in files { window.opened(file, flags: .readWrite) }
        let context = OperationContext()
        // Slices of one buffer: the window only counts bytes, and allocating a megabyte per step made this test
        // heavy enough to starve other suites' processes (etcd missed its deadlines beside it).
        let bytes = ByteBuffer(repeating: 1, count: 1 << 20)
        var taken: [WriteBehindWindow.Write] = []
        var failuresMade = 0
        var failuresReported = 0
        for _ in 0..<5_000 {
            switch Int.random(in: 0..<10, using: &generator) {
            case 0..<5:
                let file = files.randomElement(using: &generator)!
                let count = [512, 4096, 65536, 1 << 20].randomElement(using: &generator)!
                let offset = UInt64.random(in: 0..<(16 << 20), using: &generator)
                let hadWrites = window.hasWrites
                switch window.admit(bytes.getSlice(at: 0, length: count)!, to: file, at: offset, context: context) {
                case .wait: #expect(hadWrites, "a write was told to wait with nothing in flight")
                case .failed: failuresReported += 1
                case .accepted, .passThrough: break
                }
            case 5..<9:
                taken += window.takeQueued()
                guard !taken.isEmpty else { continue }
                let write = taken.remove(at: Int.random(in: 0..<taken.count, using: &generator))
                let fails = Int.random(in: 0..<20, using: &generator) == 0
                if fails { failuresMade += 1 }
                window.complete(write, error: fails ? FileSystemError(.noSpace, "full") : nil)
            default:
                if window.takeError(of: files.randomElement(using: &generator)!.id) != nil { failuresReported += 1 }
            }
            if let broken = window.checkInvariants() { Issue.record("\(broken)"); return }
        }
        taken += window.takeQueued()
        for write in taken { window.complete(write, error: nil) }
        for file in files where window.takeError(of: file.id) != nil { failuresReported += 1 }
        #expect(window.byteCount == 0)
        // Several failures of one file before anyone asks are one report; none is reported twice.
        #expect(failuresReported <= failuresMade)
        #expect(failuresMade == 0 || failuresReported > 0)
    }
}
