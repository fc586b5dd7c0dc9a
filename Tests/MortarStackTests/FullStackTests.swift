import Logging
import Mortar
import MortarCore
import MortarDistribute
import MortarProtocolClient
import MortarTesting
import MortarVolumeSpec
import NIOCore
import Testing

/// The whole client stack over loopback: Volume → Distribute → three protocol clients → three real bricks.
final class ThreeBrickStack: Sendable {
    let bricks: [LoopbackBrick]
    let clients: [ProtocolClient]
    let distribute: Distribute
    let volume: Volume

    static func start() async throws -> ThreeBrickStack {
        var bricks: [LoopbackBrick] = []
        for _ in 0..<3 { bricks.append(try await LoopbackBrick.start()) }
        return ThreeBrickStack(bricks: bricks)
    }

    private init(bricks: [LoopbackBrick]) {
        self.bricks = bricks
        clients = bricks.map { $0.makeClient() }
        distribute = try! Distribute(children: clients, options: DistributeOptions(), logger: OperationContext.silentLogger)
        volume = Volume(stack: distribute, name: "stack")
    }

    func stop() async {
        await volume.close()
        for client in clients { client.shutdown() }
        for brick in bricks {
            await brick.stop()
            brick.removeDirectory()
        }
    }
}

@Suite("Whole stack over loopback")
struct FullStackTests {
    @Test(arguments: FileOperationsConformance.checks)
    func conformance(_ check: ConformanceCheck) async throws {
        let stack = try await ThreeBrickStack.start()
        try await check.run(stack.distribute)
        await stack.stop()
    }

    @Test(arguments: [31, 32, 33] as [UInt64])
    func randomSequenceMatchesReference(seed: UInt64) async throws {
        let stack = try await ThreeBrickStack.start()
        try await RandomOperationSequence(seed: seed, stepCount: 300).run(
            subject: stack.distribute, reference: MemoryFileSystem())
        await stack.stop()
    }

    /// More entries than one page holds, spread over three bricks: every name exactly once.
    @Test func largeDirectoryListsEveryNameOnce() async throws {
        let stack = try await ThreeBrickStack.start()
        try await stack.volume.makeDirectory("/big")
        let names = (0..<2500).map { "entry-\($0)" }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for chunk in stride(from: 0, to: names.count, by: 250) {
                group.addTask {
                    for name in names[chunk..<min(chunk + 250, names.count)] {
                        try await stack.volume.create("/big/" + name).close()
                    }
                }
            }
            try await group.waitForAll()
        }
        let listed = try await stack.volume.listDirectory("/big").map(\.name)
        #expect(listed.count == names.count)
        #expect(Set(listed) == Set(names))
        await stack.stop()
    }

    /// Reads and writes larger than one request are split into chunks and reassembled in order.
    @Test func largeIOIsChunkedAndReassembled() async throws {
        let stack = try await ThreeBrickStack.start()
        let file = try await stack.volume.create("/large")
        let size = 5 * Limits.ioByteCountMax + 123
        let bytes = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }
        let written = try await file.write(ByteBuffer(bytes: bytes), at: 7)
        #expect(written == size)
        let back = try await file.read(count: size + 1000, at: 7)
        #expect(back.readableBytes == size, "a read past the end returns what exists")
        #expect(Array(back.readableBytesView) == bytes)
        #expect(try await file.attributes().size == UInt64(size + 7))
        try await file.close()
        await stack.stop()
    }

    @Test func pathsAreCheckedBeforeTheyReachABrick() async throws {
        let stack = try await ThreeBrickStack.start()
        let volume = stack.volume
        try await volume.makeDirectories("/a/b")
        try await volume.makeSymbolicLink("/a/up", target: "..")
        try await volume.makeSymbolicLink("/a/absolute", target: "/a/b")
        try await volume.makeSymbolicLink("/loop", target: "/loop")
        #expect(try await volume.attributes("/a/up/a/b").type == .directory, "relative symlink followed")
        #expect(try await volume.attributes("/a/absolute").type == .directory, "absolute symlink stays in volume")
        #expect(try await volume.linkAttributes("/a/absolute").type == .symbolicLink)
        let escape = await #expect(throws: FileSystemError.self) { try await volume.attributes("/a/../../etc") }
        #expect(escape?.code == .permissionDenied)
        let nul = await #expect(throws: FileSystemError.self) { try await volume.attributes("/a\u{0}b") }
        #expect(nul?.code == .invalidArgument)
        let long = await #expect(throws: FileSystemError.self) {
            try await volume.makeDirectory("/" + String(repeating: "x", count: 256))
        }
        #expect(long?.code == .nameTooLong)
        let loop = await #expect(throws: FileSystemError.self) { try await volume.attributes("/loop") }
        #expect(loop?.code == .symbolicLinkLoop)
        let root = await #expect(throws: FileSystemError.self) { try await volume.removeDirectory("/") }
        #expect(root?.code == .busy)
        try await volume.changeDirectory("/a/b")
        try await volume.create("relative").close()
        #expect(try await volume.attributes("/a/b/relative").type == .regular)
        await stack.stop()
    }

    /// The blocking form works from a thread that is not part of Swift's concurrency pool.
    @Test func blockingCallsFromAPlainThread() async throws {
        let stack = try await ThreeBrickStack.start()
        let volume = stack.volume
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<UInt64, any Error>, Never>) in
            let thread = Thread {
                continuation.resume(returning: Result {
                    _ = try Blocking.run { try await volume.makeDirectory("/from-thread") }
                    let file = try Blocking.run { try await volume.create("/from-thread/f") }
                    _ = try Blocking.run { try await file.write(Array("abc".utf8), at: 0) }
                    try Blocking.run { try await file.close() }
                    return try Blocking.run { try await volume.attributes("/from-thread/f").size }
                })
            }
            thread.start()
        }
        #expect(try result.get() == 3)
        await stack.stop()
    }
}

import Foundation
