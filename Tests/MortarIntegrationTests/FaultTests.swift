import Foundation
import Mortar
import MortarCore
import MortarTesting
import NIOCore
import Testing

/// Faults with real processes: a brick killed with SIGKILL, a full disk, a daemon restart.
@Suite("Faults with real processes", .serialized)
struct FaultTests {
    /// Starts a one-brick volume and returns the brick directory.
    func startVolume(_ cluster: ProcessCluster, _ name: String, brick: String? = nil) async throws -> String {
        let directory = try brick ?? cluster.makeBrickDirectory(name)
        try await cluster.expectSuccess("volume", "create", name, "127.0.0.1:" + directory)
        try await cluster.expectSuccess("volume", "start", name)
        try await waitUntil("the brick of \(name) is online", seconds: 60) {
            try await cluster.brickProcesses(name).allSatisfy(\.online)
        }
        return directory
    }

    /// A brick killed mid-request: every call either succeeds with the right data (the client reconnects to the
    /// restarted brick and retries idempotent reads) or fails with an error; none hangs. The daemon restarts the
    /// brick and the same open file works again without the application reopening it. When the brick stays down
    /// (volume stopped), calls fail with ENOTCONN instead of waiting forever.
    @Test func brickKilledMidRequest() async throws {
        let cluster = try ProcessCluster()
        try await cluster.startDaemon()
        _ = try await startVolume(cluster, "victim")
        let volume = try await cluster.connect("victim")
        let file = try await volume.create("/data")
        let block = ByteBuffer(repeating: 0x5A, count: 1 << 20)
        try await file.write(block, at: 0)
        let pid = try #require(try await cluster.brickProcesses("victim").first?.pid)

        let outcome = try await withThrowingTaskGroup(of: (beforeKill: Int, successes: Int, failures: Int).self) {
            group in
            group.addTask {
                var counts = (beforeKill: 0, successes: 0, failures: 0)
                for round in 0..<200 {
                    if round == 20 { kill(pid, SIGKILL) }
                    do {
                        let data = try await file.read(count: 1 << 20, at: 0)
                        #expect(data == block, "a read that succeeds must return the acknowledged data")
                        counts.successes += 1
                        if round < 20 { counts.beforeKill += 1 }
                    } catch {
                        counts.failures += 1
                    }
                }
                return counts
            }
            group.addTask {
                try await Task.sleep(for: .seconds(120))
                throw FileSystemError(.timedOut, "200 reads across a brick SIGKILL did not finish in 120 s: a hang")
            }
            let result = try await group.next()!
            group.cancelAll()
            return result
        }
        print("brick killed mid-request: \(outcome.successes) reads succeeded, \(outcome.failures) failed")
        #expect(outcome.beforeKill == 20, "reads before the kill must all succeed; \(outcome.beforeKill) of 20 did")
        try await waitUntil("the daemon restarted the brick", seconds: 30) {
            let brick = try await cluster.brickProcesses("victim").first
            return brick?.online == true && brick?.pid != pid
        }
        #expect(try await file.read(count: 1 << 20, at: 0) == block, "data intact after the brick restart")

        try await cluster.expectSuccess("volume", "stop", "victim")
        let error = await #expect(throws: FileSystemError.self) {
            _ = try await file.read(count: 4096, at: 0)
        }
        #expect(error?.code == .notConnected, "a brick that stays down gives ENOTCONN, got \(String(describing: error))")
        try? await file.close()
        await volume.close()
        await cluster.tearDown()
    }

    /// Write-behind's promise: once fsync returns, every write acknowledged before it is on the brick. The brick is
    /// SIGKILLed the moment fsync returns and its file is read from the brick's directory, so no write still in
    /// flight (or retried later) could make up for an fsync that returned early.
    @Test func fsyncAfterAcknowledgedWritesSurvivesBrickKill() async throws {
        let cluster = try ProcessCluster()
        try await cluster.startDaemon()
        let brick = try await startVolume(cluster, "behind")
        let volume = try await cluster.connect("behind")
        let pid = try #require(try await cluster.brickProcesses("behind").first?.pid)
        let blockCount = 1024
        var expected = [UInt8](repeating: 0, count: blockCount * 4096)
        var writes: [(offset: Int, bytes: [UInt8])] = []
        for index in 0..<2048 {
            let offset = (index * 389 % blockCount) * 4096  // every block, most of them twice, out of order
            let bytes = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ index &* 7) }
            expected.replaceSubrange(offset..<offset + 4096, with: bytes)
            writes.append((offset, bytes))
        }
        let planned = writes
        let started = ContinuousClock.now
        let mostInFlight = try await withThrowingTaskGroup { group in
            group.addTask { await volume.run() }
            let file = try await volume.create("/disk")
            var mostInFlight = 0
            for (offset, bytes) in planned {
                try await file.write(bytes, at: UInt64(offset))
                mostInFlight = max(mostInFlight, volume.writeBehindByteCount)
            }
            try await file.synchronize()
            kill(pid, SIGKILL)
            await volume.close()
            try await group.waitForAll()
            return mostInFlight
        }
        print("write-behind: 2048 writes of 4 KiB and fsync in \(ContinuousClock.now - started), up to \(mostInFlight) bytes in flight")
        #expect(mostInFlight > 0, "no write was acknowledged before the brick had it: write-behind was off")
        let onBrick = try #require(FileManager.default.contents(atPath: brick + "/disk"))
        #expect(onBrick.count == expected.count)
        #expect(Array(onBrick) == expected, "the brick lacks writes acknowledged before fsync returned")
        await cluster.tearDown()
    }

    /// ENOSPC from a brick on a tiny file system reaches the writer as a clear error.
    @Test func fullDiskReachesTheWriter() async throws {
        let cluster = try ProcessCluster()
        try await cluster.startDaemon()
        let mountPoint = try cluster.makeBrickDirectory("tiny")
        let mount = try cluster.runSystem("/bin/mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mountPoint)
        try #require(mount == 0, "mounting a 2 MiB tmpfs failed (status \(mount)); this test needs root")
        defer { _ = try? cluster.runSystem("/bin/umount", "-l", mountPoint) }
        _ = try await startVolume(cluster, "tiny", brick: mountPoint)
        let big = cluster.directory + "/big"
        #expect(FileManager.default.createFile(atPath: big, contents: Data(repeating: 7, count: 8 << 20)))
        try await cluster.expectFailure("cp", big, "mortar://\(cluster.manager)/tiny/big", mentioning: "no space left")
        // The brick keeps serving after the error.
        try await cluster.expectSuccess("ls", "mortar://\(cluster.manager)/tiny/")
        try await cluster.expectSuccess("volume", "stop", "tiny")
        _ = try cluster.runSystem("/bin/umount", mountPoint)
        await cluster.tearDown()
    }

    /// A volume that was started is started again when its daemon restarts, and its files are intact.
    @Test func daemonRestartRestartsStartedVolumes() async throws {
        let cluster = try ProcessCluster()
        try await cluster.startDaemon()
        _ = try await startVolume(cluster, "durable")
        let local = cluster.directory + "/note"
        #expect(FileManager.default.createFile(atPath: local, contents: Data("survives restarts\n".utf8)))
        try await cluster.expectSuccess("cp", local, "mortar://\(cluster.manager)/durable/note")
        try await cluster.stopDaemon()
        try await cluster.startDaemon()
        try await waitUntil("the brick is back online", seconds: 60) {
            try await cluster.brickProcesses("durable").allSatisfy(\.online)
        }
        let note = try await cluster.expectSuccess("cat", "mortar://\(cluster.manager)/durable/note")
        #expect(note.output == "survives restarts\n")
        await cluster.tearDown()
    }
}

extension ProcessCluster {
    /// Runs a system command and returns its exit status.
    func runSystem(_ path: String, _ arguments: String...) throws -> Int32 {
        try Subprocess.start(path, arguments, output: .inherit).waitUntilExit()
    }
}
