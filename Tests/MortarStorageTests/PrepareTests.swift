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
}
