import MortarCore
import MortarProtocolClient
import MortarTesting
import NIOCore
import Synchronization
import Testing

/// Holds every release on the brick until the test opens the gate, and counts the releases that reached it.
private final class ReleaseGate: Sendable {
    private struct State {
        var isOpen = false
        var arrived = 0
        var held: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    var arrived: Int { state.withLock { $0.arrived } }

    func pass() async {
        await withCheckedContinuation { continuation in
            let passes = state.withLock { state -> Bool in
                state.arrived += 1
                if state.isOpen { return true }
                state.held.append(continuation)
                return false
            }
            if passes { continuation.resume() }
        }
    }

    func open() {
        let held = state.withLock { state in
            state.isOpen = true
            defer { state.held.removeAll() }
            return state.held
        }
        for continuation in held { continuation.resume() }
    }
}

private final class HeldReleases: Layer {
    let next: any FileOperations
    let gate: ReleaseGate
    init(next: any FileOperations, gate: ReleaseGate) {
        self.next = next
        self.gate = gate
    }

    func release(_ file: OpenFile, context: OperationContext) async throws {
        await gate.pass()
        try await next.release(file, context: context)
    }
}

private final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .acquiring) }
    func set() { value.store(true, ordering: .releasing) }
}

/// The harness a brick's stack is built with, kept for the test to read.
private final class LockedHarness: Sendable {
    private let built = Mutex<LayerHarness?>(nil)
    var layer: LayerHarness? { built.withLock { $0 } }
    func wrap(_ next: any FileOperations) -> any FileOperations {
        let harness = LayerHarness(next: next)
        built.withLock { $0 = harness }
        return harness
    }
}

/// Runs `body`, failing the test instead of hanging when it has not returned within `seconds`.
private func within<T: Sendable>(
    _ seconds: Int, _ what: String, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else {
            throw FileSystemError(.timedOut, "\(what) did not return within \(seconds) s")
        }
        return value
    }
}

/// Exchanges a close saves: clients do not wait for a release's reply, except for a file that held locks, and
/// answer a flush themselves.
@Suite("Closes without waiting for the brick")
struct SavedExchangeTests {
    @Test func releaseReturnsBeforeTheBrickHasReleased() async throws {
        let gate = ReleaseGate()
        let brick = try await LoopbackBrick.start(aboveStorage: { HeldReleases(next: $0, gate: gate) })
        let client = brick.makeClient()
        let context = OperationContext()
        let created = try await client.create(
            "posted", in: .root, id: .random(), permissions: 0o644, flags: .readWrite, context: context)
        try await within(30, "a release the brick holds") { try await client.release(created.file, context: context) }
        // The client has let go, while the brick's release waits at the gate.
        #expect(client.openFileCount == 0)
        try await waitFor("the release to reach the brick") { gate.arrived == 1 }
        #expect(brick.stack.storage.openHandleCount == 1)
        // A request sent after the release on the same connection finds the handle gone.
        await #expect(throws: FileSystemError.self) {
            _ = try await client.read(from: created.file, at: 0, count: 1, context: context)
        }
        gate.open()
        try await waitFor("the brick to release the file") { brick.stack.storage.openHandleCount == 0 }
        client.shutdown()
        await brick.stop()
        brick.removeDirectory()
    }

    @Test func releaseOfAFileThatHeldLocksWaitsForTheBrick() async throws {
        let gate = ReleaseGate()
        let brick = try await LoopbackBrick.start(aboveStorage: { HeldReleases(next: $0, gate: gate) })
        let client = brick.makeClient()
        let context = OperationContext()
        let created = try await client.create(
            "locked", in: .root, id: .random(), permissions: 0o644, flags: .readWrite, context: context)
        try await client.lock(
            created.file, LockRequest(kind: .write, start: 0, length: 10, owner: 1, processID: 1), wait: false,
            context: context)
        let returned = Flag()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await client.release(created.file, context: context)
                returned.set()
            }
            try await waitFor("the release to reach the brick") { gate.arrived == 1 }
            // Its locks go with the release: the brick has not released, so the client has not returned.
            let returnedEarly = returned.isSet
            #expect(!returnedEarly)
            gate.open()
            try await group.waitForAll()
        }
        let returnedAtLast = returned.isSet
        #expect(returnedAtLast)
        #expect(brick.stack.storage.openHandleCount == 0)
        client.shutdown()
        await brick.stop()
        brick.removeDirectory()
    }

    @Test func flushIsAnsweredByTheClient() async throws {
        let harness = LockedHarness()
        let brick = try await LoopbackBrick.start(aboveStorage: { harness.wrap($0) })
        let client = brick.makeClient()
        let context = OperationContext()
        let created = try await client.create(
            "flushed", in: .root, id: .random(), permissions: 0o644, flags: .readWrite, context: context)
        _ = try await client.write(ByteBuffer(bytes: [1, 2, 3]), to: created.file, at: 0, context: context)
        try await client.flush(created.file, context: context)
        #expect(harness.layer?.count(of: .flush) == 0, "a flush reached the brick")
        #expect(harness.layer?.count(of: .write) == 1)
        try await client.release(created.file, context: context)
        let error = await #expect(throws: FileSystemError.self) {
            try await client.flush(created.file, context: context)
        }
        #expect(error?.code == .badFileHandle)
        client.shutdown()
        await brick.stop()
        brick.removeDirectory()
    }

    private func waitFor(_ what: String, _ condition: @escaping @Sendable () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while !condition() {
            guard ContinuousClock.now < deadline else { throw FileSystemError(.timedOut, "waited 30 s for \(what)") }
            try await Task.sleep(for: .milliseconds(5))
        }
    }
}
