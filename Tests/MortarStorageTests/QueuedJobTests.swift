import Foundation
import MortarCore
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
            try await waitFor("the pool's thread to be held") { holding.value.load(ordering: .relaxed) }
            for _ in 0..<3 { group.addTask { try await storage.run {} } }
            try await waitFor("three jobs queued behind it") { storage.queuedJobCount == 3 }
            release.signal()
            try await group.waitForAll()
        }
        #expect(storage.queuedJobCount == 0)
        try await pool.shutdownGracefully()
    }

    private final class HeldFlag: Sendable {
        let value = Atomic(false)
    }

    /// Polls `condition` every 10 ms for at most 30 s (a generous bound: a hang fails).
    private func waitFor(_ what: String, _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while !condition() {
            guard ContinuousClock.now < deadline else {
                Issue.record("waited 30 s for \(what)")
                return
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}
