import Dispatch
import Synchronization
import Testing

@testable import MortarFUSE

/// The mount's bridge from libfuse's threads into tasks: every task is counted until it ends (also one that ends
/// before `start` has registered it), at most `capacity` run at once, and the mount's end cancels the rest.
@Suite("Mount request tracker")
struct RequestTrackerTests {
    /// A counter the tasks and the test share.
    final class Counter: Sendable {
        private let value = Atomic<Int>(0)
        func add() { value.add(1, ordering: .relaxed) }
        var count: Int { value.load(ordering: .relaxed) }
    }

    @Test func tasksThatEndAtOnceAreCountedOutAndFreeTheirSlots() async throws {
        let tracker = RequestTracker(capacity: 4)
        let finished = Counter()
        // 2,000 tasks on a capacity of 4: a slot that were not given back would stop this loop for good.
        for _ in 0..<2_000 {
            tracker.start { finished.add() }
        }
        #expect(await tracker.cancelAll(waitingAtMost: 30_000), "tasks still counted: \(tracker.count)")
        #expect(finished.count == 2_000)
        #expect(tracker.count == 0)
    }

    @Test func atMostCapacityRunAndTheEndCancelsTheRest() async throws {
        let tracker = RequestTracker(capacity: 2)
        let started = Counter()
        for _ in 0..<2 {
            tracker.start {
                started.add()
                // Runs until cancelled: the tracker's end must reach it.
                while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(5)) }
            }
        }
        let third = Counter()
        let thread = DispatchQueue(label: "libfuse stand-in")
        thread.async {
            tracker.start {}
            third.add()
        }
        try await Task.sleep(for: .milliseconds(200))
        #expect(third.count == 0, "a third request started with both slots taken")
        #expect(tracker.count == 2)
        #expect(await tracker.cancelAll(waitingAtMost: 30_000), "cancelled tasks still counted: \(tracker.count)")
        let deadline = ContinuousClock.now + .seconds(30)
        while third.count == 0, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(third.count == 1, "the waiting request never got a slot")
        #expect(started.count == 2)
    }
}
