import Foundation
@testable import Mortar
import MortarCore
import NIOPosix
import Testing

/// `Blocking.run` makes the calling thread the task's executor: the body runs on that thread, child tasks work,
/// errors come back as thrown errors, and many plain threads can block in it at once.
@Suite(.serialized) struct BlockingTests {
    @Test func theBodyRunsOnTheCallingThread() async throws {
        let sameThread = await onPlainThread {
            let caller = pthread_self()
            let inside = (try? Blocking.run { pthread_self() }) ?? 0
            return pthread_equal(caller, inside) != 0
        }
        #expect(sameThread)
    }

    @Test func childTasksAndSuspensionsComplete() async throws {
        let sum = await onPlainThread {
            try? Blocking.run {
                try await withThrowingTaskGroup(of: Int.self) { group in
                    for value in 1...50 {
                        group.addTask {
                            try await Task.sleep(for: .milliseconds(value % 5))
                            return value
                        }
                    }
                    return try await group.reduce(0, +)
                }
            }
        }
        #expect(sum == 1275)
    }

    @Test func errorsAreRethrown() async throws {
        let code = await onPlainThread { () -> FileSystemError.Code? in
            do {
                try Blocking.run { throw FileSystemError.notFound("nothing here") }
                return nil
            } catch let error as FileSystemError {
                return error.code
            } catch {
                return nil
            }
        }
        #expect(code == .notFound)
    }

    /// A call's executor outlives the call: the event loop that resumed the task with its last reply still
    /// touches the executor's condition after releasing its lock, by which time the caller may have returned. Freed
    /// per call, that was a write through a dangling pointer (fio crashed with SIGSEGV in pthread_cond_broadcast);
    /// pooled, executors are reused: the 1,200 calls below make at most one per thread (freed per call, they would
    /// make 1,200). The suite runs serialized, so only FullStackTests' one blocked thread can borrow beside them.
    @Test func executorsOutliveTheirCallsAndArePooled() async throws {
        let threadCount = 6
        let callsPerThread = 200
        let before = CallingThreadExecutor.madeCount
        let group = MultiThreadedEventLoopGroup.singleton
        let answered = await withTaskGroup(of: Int.self) { tasks in
            for _ in 0..<threadCount {
                tasks.addTask {
                    await onPlainThread {
                        var count = 0
                        for index in 0..<callsPerThread {
                            // The reply comes from an event loop thread, as a brick's does.
                            let value = try? Blocking.run { try await group.next().submit { index }.get() }
                            if value == index { count += 1 }
                        }
                        return count
                    }
                }
            }
            return await tasks.reduce(0, +)
        }
        #expect(answered == threadCount * callsPerThread)
        let made = CallingThreadExecutor.madeCount - before
        #expect(made <= threadCount + 1, "\(made) executors made for \(threadCount * callsPerThread) calls on \(threadCount) threads")
    }

    @Test func manyThreadsBlockAtOnceAgainstAVolume() async throws {
        let stack = try await ThreeBrickStack.start()
        let volume = stack.volume
        let threadCount = 16
        let failures = await withTaskGroup(of: String?.self) { group in
            for index in 0..<threadCount {
                group.addTask {
                    await onPlainThread { () -> String? in
                        do {
                            let file = try Blocking.run { try await volume.create("/thread-\(index)") }
                            for round in 0..<20 {
                                let bytes = Array(repeating: UInt8(truncatingIfNeeded: index + round), count: 4096)
                                _ = try Blocking.run { try await file.write(bytes, at: UInt64(round) * 4096) }
                            }
                            let size = try Blocking.run { try await file.attributes().size }
                            try Blocking.run { try await file.close() }
                            return size == 20 * 4096 ? nil : "thread \(index): size \(size)"
                        } catch {
                            return "thread \(index): \(error)"
                        }
                    }
                }
            }
            return await group.compactMap { $0 }.reduce(into: []) { $0.append($1) }
        }
        #expect(failures.isEmpty, "\(failures)")
        await stack.stop()
    }
}

/// Runs `body` on a new plain thread (not one of Swift's concurrency pool) and returns its result.
private func onPlainThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread { continuation.resume(returning: body()) }.start()
    }
}
