import Foundation
import MortarCore
import MortarTesting
import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import MortarPosixStorage

/// `mortar_brick_requests_queued` counts jobs handed to the I/O pool that no thread has started: with the pool's
/// one thread held, the jobs behind it are counted, and none once they ran.
@Suite("Jobs waiting for the I/O pool")
struct QueuedJobTests {
    @Test func jobsBehindABusyPoolAreCountedUntilTheyRun() async throws {
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        let root = try TestBrick.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let storage = try await PosixStorage.prepare(root: root, threadPool: pool, logger: OperationContext.silentLogger)
        let release = DispatchSemaphore(value: 0)
        let holding = HeldFlag()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await storage.run {
                    holding.value.store(true, ordering: .relaxed)
                    release.wait()
                }
            }
            try await eventually("the pool's thread being held") { holding.value.load(ordering: .relaxed) }
            for _ in 0..<3 { group.addTask { try await storage.run {} } }
            try await eventually("three jobs queued behind it") { storage.queuedJobCount == 3 }
            release.signal()
            try await group.waitForAll()
        }
        #expect(storage.queuedJobCount == 0)
        try await pool.shutdownGracefully()
    }

    private final class HeldFlag: Sendable {
        let value = Atomic(false)
    }
}
