import MortarCore
import Synchronization
import Testing

/// Concurrent calls for one key share one execution; cancellation never hands anyone an outcome that is not theirs.
@Suite("Single flight")
struct SingleFlightTests {
    struct Failed: Error, Equatable {
        let execution: Int
    }

    /// Work that counts its executions and waits at a gate the test opens.
    final class GatedWork: Sendable {
        let executions = Atomic(0)
        let isOpen = Atomic(false)
        let failing: Bool

        init(failing: Bool = false) {
            self.failing = failing
        }

        func callAsFunction() async throws -> Int {
            let execution = executions.add(1, ordering: .sequentiallyConsistent).newValue
            // Sleeping, not spinning: cancellation ends the wait with CancellationError.
            while !isOpen.load(ordering: .sequentiallyConsistent) { try await Task.sleep(for: .milliseconds(1)) }
            if failing { throw Failed(execution: execution) }
            return execution
        }

        func open() {
            isOpen.store(true, ordering: .sequentiallyConsistent)
        }

        var count: Int { executions.load(ordering: .sequentiallyConsistent) }
    }

    /// Waits until `condition` holds, failing after 30 s (a hang fails the test).
    static func eventually(_ what: String, _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while !condition() {
            guard ContinuousClock.now < deadline else {
                Issue.record("\(what) did not happen within 30 s")
                throw CancellationError()
            }
            try await Task.sleep(for: .milliseconds(1))
        }
    }

    @Test("callers that arrive while the work runs share its one execution and its value")
    func concurrentCallersShareOneExecution() async throws {
        let flight = SingleFlight<String, Int>()
        let work = GatedWork()
        let values = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<64 { group.addTask { try await flight.run("views") { try await work() } } }
            try await Self.eventually("63 callers waiting") { flight.waiterCount("views") == 63 }
            work.open()
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(work.count == 1)
        #expect(values == Array(repeating: 1, count: 64))
        #expect(flight.waiterCount("views") == 0)
    }

    @Test("an error is every waiter's error")
    func anErrorIsShared() async throws {
        let flight = SingleFlight<String, Int>()
        let work = GatedWork(failing: true)
        let outcomes = try await withThrowingTaskGroup(of: Result<Int, Failed>.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    do {
                        return .success(try await flight.run("report") { try await work() })
                    } catch let error as Failed {
                        return .failure(error)
                    }
                }
            }
            try await Self.eventually("7 callers waiting") { flight.waiterCount("report") == 7 }
            work.open()
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(work.count == 1)
        #expect(outcomes == Array(repeating: .failure(Failed(execution: 1)), count: 8))
    }

    @Test("different keys do not wait for each other, and a call after an execution ends runs again")
    func keysAreIndependentAndNothingIsCached() async throws {
        let flight = SingleFlight<Int, Int>()
        let first = GatedWork()
        let second = GatedWork()
        second.open()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { _ = try await flight.run(1) { try await first() } }
            try await Self.eventually("the first key's work started") { first.count == 1 }
            // The first key's work is held at its gate; the second key's runs regardless.
            #expect(try await flight.run(2) { try await second() } == 1)
            first.open()
            try await group.waitForAll()
        }
        #expect(try await flight.run(2) { try await second() } == 2)
    }

    @Test("a waiter that is cancelled returns at once; the work goes on for the others")
    func aCancelledWaiterLeavesAlone() async throws {
        let flight = SingleFlight<String, Int>()
        let work = GatedWork()
        try await withThrowingTaskGroup(of: Int.self) { leader in
            leader.addTask { try await flight.run("views") { try await work() } }
            try await Self.eventually("the work started") { work.count == 1 }
            let cancelled = await withTaskGroup(of: Bool.self) { waiter in
                waiter.addTask {
                    do {
                        _ = try await flight.run("views") { try await work() }
                        return false
                    } catch {
                        return error is CancellationError
                    }
                }
                try? await Self.eventually("the waiter waiting") { flight.waiterCount("views") == 1 }
                waiter.cancelAll()
                return await waiter.next() ?? false
            }
            #expect(cancelled, "the cancelled waiter ends with CancellationError while the gate is still closed")
            #expect(flight.waiterCount("views") == 0)
            work.open()
            #expect(try await leader.next() == 1)
        }
        #expect(work.count == 1)
    }

    @Test("when the caller running the work is cancelled, its waiters run it again instead of sharing its cancellation")
    func aCancelledLeadersWaitersRunTheWorkAgain() async throws {
        let flight = SingleFlight<String, Int>()
        let work = GatedWork()
        let values = try await withThrowingTaskGroup(of: Int.self) { waiters in
            await withTaskGroup(of: Void.self) { leader in
                leader.addTask { _ = try? await flight.run("views") { try await work() } }
                try? await Self.eventually("the leader's work started") { work.count == 1 }
                for _ in 0..<3 { waiters.addTask { try await flight.run("views") { try await work() } } }
                try? await Self.eventually("three waiters") { flight.waiterCount("views") == 3 }
                leader.cancelAll()
            }
            try await Self.eventually("one waiter running the work again") { work.count == 2 }
            try await Self.eventually("the other two waiting for it") { flight.waiterCount("views") == 2 }
            work.open()
            return try await waiters.reduce(into: []) { $0.append($1) }
        }
        #expect(values == [2, 2, 2])
        #expect(work.count == 2)
    }
}
