import MortarCore
import MortarTesting
import MortarWire
import NIOCore
import Testing

@testable import MortarBrickServer

/// The brick's profiler on its own: latency percentiles within their stated bound, top tables that stay bounded yet
/// let a file that turns hot late in, and counts that start from zero at each `profile start`.
@Suite("Brick profiler")
struct BrickProfilerTests {
    /// The p99 is the upper bound of its power-of-two bucket: never below the true value, below twice it, never
    /// above the maximum.
    @Test(arguments: [1, 7, 99, 100, 1000, 12345] as [Int])
    func p99IsWithinItsBucket(count: Int) {
        var counts = OperationCounts()
        var generator = SplitMix64(seed: UInt64(count))
        var samples: [UInt64] = []
        for _ in 0..<count {
            let nanoseconds = UInt64.random(in: 1...5_000_000, using: &generator)
            samples.append(nanoseconds)
            counts.add(nanoseconds, failed: false, read: 0, written: 0)
        }
        samples.sort()
        let truth = samples[(count * 99 + 99) / 100 - 1]
        #expect(counts.p99 >= truth && counts.p99 < 2 * truth && counts.p99 <= counts.max, "p99 \(counts.p99), true \(truth)")
        #expect(counts.min == samples.first && counts.max == samples.last && counts.calls == UInt64(count))
        let profile = counts.profile(named: "read")
        #expect(profile.averageNanoseconds == samples.reduce(0, +) / UInt64(count))
    }

    /// Full tables drop their less busy half, so they stay bounded, a file that turns hot after they filled still
    /// reaches the top, and a file that stayed hot keeps its exact count.
    @Test func topTablesStayBoundedAndLetALateHotFileIn() {
        var table = TopTable(kind: .read)
        let steady = FileID(high: 7, low: 7)
        for _ in 0..<50 { table.add(steady, bytes: 4096, capacity: 64) }
        for index in 0..<1000 { table.add(FileID(high: 1, low: UInt64(index)), bytes: 1, capacity: 64) }
        #expect(table.files.count <= 64)
        let late = FileID(high: 9, low: 9)
        for _ in 0..<10 { table.add(late, bytes: 1_000_000, capacity: 64) }
        let ranked = table.ranked(2)
        #expect(ranked.map(\.0) == [late, steady])
        #expect(ranked.map(\.1.bytes) == [10_000_000, 50 * 4096] && ranked.map(\.1.count) == [10, 50])
    }

    /// Counted only while the volume's `diagnostics.profile` is on; turned off and on again, from zero.
    @Test func countsFollowTheVolumeOption() async throws {
        var options = VolumeOptions()
        let policy = ServerPolicy(options)
        let profiler = BrickProfiler(policy: policy, directoryPaths: { ids in ids.contains(.root) ? [.root: "/"] : [:] })
        let file = OpenFile(id: FileID(high: 3, low: 4), handle: 1)
        let write = Request.write(file, offset: 0, data: ByteBuffer(repeating: 1, count: 512))
        profiler.record(write, reply: .number(512), failed: false, elapsed: .microseconds(3))
        #expect(!profiler.isProfiling && profiler.profile() == BrickProfile(profiling: false))

        options = try VolumeOptions(["diagnostics.profile": "on"])
        policy.update(options)
        #expect(profiler.isProfiling)
        profiler.record(.create(name: "f", parent: .root, id: file.id, permissions: 0o644, flags: .readWrite),
                        reply: nil, failed: false, elapsed: .microseconds(9))
        profiler.record(write, reply: .number(512), failed: false, elapsed: .microseconds(3))
        profiler.record(write, reply: nil, failed: true, elapsed: .microseconds(5))
        let profile = profiler.profile()
        let counted = try #require(profile.cumulative.operations.first { $0.operation == "write" })
        #expect(counted.calls == 2 && counted.errors == 1 && counted.bytesWritten == 512)
        #expect(counted.minNanoseconds == 3_000 && counted.maxNanoseconds == 5_000)
        #expect(profile.interval.operations.count == 2, "the first interval began at start")
        #expect(profiler.profile().interval.operations.isEmpty, "an info begins a new interval")
        let top = await profiler.top(.write, count: 5)
        #expect(top.entries == [TopEntry(id: file.id, path: "/f", count: 1, bytes: 512)], "a failed write adds nothing")

        policy.update(try VolumeOptions(["diagnostics.profile": "off"]))
        let stoppedTop = await profiler.top(.write, count: 5)
        #expect(profiler.profile() == BrickProfile(profiling: false) && !stoppedTop.profiling)
        policy.update(try VolumeOptions(["diagnostics.profile": "on"]))
        #expect(profiler.profile().cumulative.operations.isEmpty, "a restarted profile starts from zero")
        // Twice restarted: counts of the newest start are not wiped by anything, and stay.
        profiler.record(write, reply: .number(512), failed: false, elapsed: .microseconds(3))
        policy.update(try VolumeOptions(["diagnostics.profile": "off"]))
        policy.update(try VolumeOptions(["diagnostics.profile": "on"]))
        profiler.record(write, reply: .number(512), failed: false, elapsed: .microseconds(3))
        profiler.record(write, reply: .number(512), failed: false, elapsed: .microseconds(3))
        #expect(profiler.profile().cumulative.operations.first?.calls == 2)
    }
}
