import Foundation
import MortarCore
import NIOCore

/// The figures of one workload on one target.
struct BenchResult: Codable {
    var workload: String
    var target: String
    var bytes: UInt64
    var operations: Int
    var seconds: Double
    var latencyP50Microseconds: Double
    var latencyP99Microseconds: Double

    var megabytesPerSecond: Double { Double(bytes) / 1_000_000 / seconds }
    var operationsPerSecond: Double { Double(operations) / seconds }
}

struct BenchPlan {
    var size: UInt64
    var duration: Duration
    var sequentialWindow: Int

    var workloads: [BenchWorkload] {
        [
            .sequentialWrite, .sequentialRead,
            .random(write: false, depth: 1), .random(write: false, depth: 32),
            .random(write: true, depth: 1), .random(write: true, depth: 32),
        ]
    }
}

enum BenchWorkload {
    case sequentialWrite
    case sequentialRead
    case random(write: Bool, depth: Int)

    static let blockSize = 1 << 20
    static let randomBlockSize = 4096

    var name: String {
        switch self {
        case .sequentialWrite: "seq-write-1MiB"
        case .sequentialRead: "seq-read-1MiB"
        case .random(let write, let depth): "rand-\(write ? "write" : "read")-4KiB-qd\(depth)"
        }
    }

    func run(on target: any BenchTarget, targetName: String, plan: BenchPlan) async throws -> BenchResult {
        try await target.prepare(size: plan.size)
        switch self {
        case .sequentialWrite:
            return try await sequential(target, targetName, plan, write: true)
        case .sequentialRead:
            try await target.dropCaches()
            return try await sequential(target, targetName, plan, write: false)
        case .random(let write, let depth):
            return try await random(target, targetName, plan, write: write, depth: depth)
        }
    }

    /// 1 MiB requests over the whole file, `sequentialWindow` in flight; the write includes the final fsync.
    private func sequential(_ target: any BenchTarget, _ name: String, _ plan: BenchPlan, write: Bool) async throws
        -> BenchResult
    {
        let blocks = Int(plan.size / UInt64(Self.blockSize))
        let data = ByteBuffer(repeating: 0xA5, count: Self.blockSize)
        let recorder = LatencyRecorder()
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = 0
            func add() {
                let offset = UInt64(next * Self.blockSize)
                next += 1
                group.addTask {
                    let began = ContinuousClock.now
                    if write {
                        try await target.write(data, at: offset)
                    } else {
                        _ = try await target.read(count: Self.blockSize, at: offset)
                    }
                    recorder.record(ContinuousClock.now - began)
                }
            }
            while next < min(blocks, plan.sequentialWindow) { add() }
            while try await group.next() != nil { if next < blocks { add() } }
        }
        if write { try await target.synchronize() }
        return recorder.result(
            workload: self.name, target: name, bytes: UInt64(blocks * Self.blockSize), elapsed: .now - start)
    }

    /// 4 KiB requests at random aligned offsets for the plan's duration, `depth` workers each with one in flight.
    private func random(_ target: any BenchTarget, _ name: String, _ plan: BenchPlan, write: Bool, depth: Int)
        async throws -> BenchResult
    {
        let blocks = max(1, Int(plan.size / UInt64(Self.randomBlockSize)))
        let data = ByteBuffer(repeating: 0x3C, count: Self.randomBlockSize)
        let recorder = LatencyRecorder()
        let start = ContinuousClock.now
        let deadline = start + plan.duration
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<depth {
                group.addTask {
                    var generator = BenchRandom(seed: UInt64(worker + 1) &* 0x9E37_79B9_7F4A_7C15)
                    while ContinuousClock.now < deadline {
                        let offset = UInt64(Int(generator.next() % UInt64(blocks)) * Self.randomBlockSize)
                        let began = ContinuousClock.now
                        if write {
                            try await target.write(data, at: offset)
                        } else {
                            _ = try await target.read(count: Self.randomBlockSize, at: offset)
                        }
                        recorder.record(ContinuousClock.now - began)
                    }
                }
            }
            try await group.waitForAll()
        }
        let operations = recorder.count
        return recorder.result(
            workload: self.name, target: name, bytes: UInt64(operations * Self.randomBlockSize), elapsed: .now - start)
    }
}

struct BenchRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
