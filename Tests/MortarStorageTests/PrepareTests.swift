import Foundation
import MortarCore
import MortarPosixStorage
import NIOPosix
import Testing

@Suite("Preparing a brick directory")
struct PrepareTests {
    @Test func missingDirectoryIsAClearError() async throws {
        let path = "/tmp/mortar-storage-missing-\(FileID.random())"
        do {
            _ = try await PosixStorage.prepare(root: path, threadPool: .singleton, logger: OperationContext.silentLogger)
            Issue.record("prepare succeeded on a missing directory")
        } catch let error as FileSystemError {
            #expect(error.code == .notFound)
            #expect(error.message.contains("does not exist"))
            #expect(error.message.contains(path))
        }
    }

    @Test func regularFileIsAClearError() async throws {
        let directory = try TestBrick.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/plain"
        #expect(FileManager.default.createFile(atPath: path, contents: Data("x".utf8)))
        do {
            _ = try await PosixStorage.prepare(root: path, threadPool: .singleton, logger: OperationContext.silentLogger)
            Issue.record("prepare succeeded on a regular file")
        } catch let error as FileSystemError {
            #expect(error.code == .notDirectory)
            #expect(error.message.contains("is not a directory"))
        }
    }

    @Test func rootGetsTheRootFileIDAndIndexAndPrepareIsIdempotent() async throws {
        try await TestBrick.with { brick in
            let attributes = try await brick.storage.attributes(of: .root, context: brick.context)
            #expect(attributes.id == .root)
            #expect(attributes.type == .directory)
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: brick.indexPath(of: .root))
                == "../../../..")
            let directory = try await brick.makeDirectory("kept")
            let again = try await PosixStorage.prepare(
                root: brick.root + "/", threadPool: .singleton, logger: OperationContext.silentLogger)
            #expect(try await again.attributes(of: directory.id, context: brick.context).id == directory.id)
            #expect(try await again.attributes(of: .root, context: brick.context).id == .root)
        }
    }

    /// Distribute counts a disk once by this id: two bricks on one file system report the same one, a brick on
    /// another file system (here /dev/shm's tmpfs) another.
    @Test func bricksOnOneFileSystemReportOneFileSystemID() async throws {
        try await TestBrick.with { first in
            try await TestBrick.with { second in
                let one = try await first.storage.fileSystemStatistics(context: first.context)
                let two = try await second.storage.fileSystemStatistics(context: second.context)
                #expect(one.fileSystemID != 0)
                #expect(one.fileSystemID == two.fileSystemID)
                let elsewhere = "/dev/shm/mortar-fsid-\(getpid())"
                try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
                defer { try? FileManager.default.removeItem(atPath: elsewhere) }
                let other = try await PosixStorage.prepare(
                    root: elsewhere, threadPool: .singleton, logger: OperationContext.silentLogger)
                let three = try await other.fileSystemStatistics(context: first.context)
                #expect(three.fileSystemID != one.fileSystemID)
            }
        }
    }
}
