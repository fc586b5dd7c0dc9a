import Foundation
import MortarCore
import MortarPosixStorage
import MortarTesting
import NIOCore
import Testing

@Suite("A full file system")
struct NoSpaceTests {
    /// Mounts a 1 MiB tmpfs as the brick and writes past its capacity. The mount needs root; if it fails the test
    /// fails and says why, rather than passing without having checked anything.
    @Test func writePastCapacityThrowsNoSpace() async throws {
        let directory = try TestBrick.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let mount = try Self.run("/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", directory])
        try #require(mount.status == 0, "mounting a 1 MiB tmpfs on \(directory) failed: \(mount.output)")
        defer { _ = try? Self.run("/bin/umount", [directory]) }
        let storage = try await PosixStorage.prepare(
            root: directory, threadPool: .singleton, logger: OperationContext.silentLogger)
        let context = OperationContext()
        let created = try await storage.create(
            "filler", in: .root, id: .random(), permissions: 0o644, flags: [.write, .create], context: context)
        do {
            let chunk = ByteBuffer(repeating: 0x41, count: 512 * 1024)
            for index in 0..<4 {
                _ = try await storage.write(chunk, to: created.file, at: UInt64(index * chunk.readableBytes),
                                            context: context)
            }
            Issue.record("wrote 2 MiB to a 1 MiB file system without an error")
        } catch let error as FileSystemError {
            #expect(error.code == .noSpace, "got \(error)")
        }
        try await storage.release(created.file, context: context)
    }

    private static func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let (status, output, _) = try Subprocess.run(executable, arguments, errorsToOutput: true)
        return (status, output)
    }
}
