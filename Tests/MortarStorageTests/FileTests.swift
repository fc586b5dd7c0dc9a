import Foundation
import MortarCore
import MortarPosixStorage
import NIOCore
import Testing

@Suite("Files: create, open, read, write, release")
struct FileTests {
    @Test func createWriteReadRelease() async throws {
        try await TestBrick.with { brick in
            let id = FileID.random()
            let created = try await brick.storage.create(
                "notes", in: .root, id: id, permissions: 0o640, flags: [.readWrite, .create], context: brick.context)
            #expect(created.attributes.id == id)
            #expect(created.attributes.permissions == 0o640)
            #expect(created.attributes.linkCount == 1)
            #expect(brick.indexEntryExists(id))
            #expect(brick.storage.openHandleCount == 1)
            let written = try await brick.storage.write(
                ByteBuffer(string: "hello brick"), to: created.file, at: 0, context: brick.context)
            #expect(written == 11)
            #expect(try await brick.readAll(created.file) == "hello brick")
            // Stored natively: an administrator reads the same bytes at the same path.
            #expect(try String(contentsOfFile: brick.root + "/notes", encoding: .utf8) == "hello brick")
            try await brick.storage.release(created.file, context: brick.context)
            #expect(brick.storage.openHandleCount == 0)
            await expectError(.badFileHandle) { try await brick.readAll(created.file) }
            await expectError(.badFileHandle) { try await brick.storage.release(created.file, context: brick.context) }
        }
    }

    @Test func createOfAnExistingFileOpensItUnlessExclusive() async throws {
        try await TestBrick.with { brick in
            let first = try await brick.createFile("same", contents: "data")
            let second = try await brick.storage.create(
                "same", in: .root, id: .random(), permissions: 0o600, flags: [.readWrite, .create],
                context: brick.context)
            #expect(second.attributes.id == first.attributes.id)
            #expect(second.attributes.size == 4)
            #expect(try await brick.readAll(second.file) == "data")
            await expectError(.exists) {
                try await brick.storage.create(
                    "same", in: .root, id: .random(), permissions: 0o600, flags: [.readWrite, .create, .exclusive],
                    context: brick.context)
            }
        }
    }

    /// The brick process's umask must not strip bits the client asked for.
    @Test func permissionsAreExactlyAsRequested() async throws {
        try await TestBrick.with { brick in
            let file = try await brick.storage.create(
                "open", in: .root, id: .random(), permissions: 0o666, flags: [.write, .create], context: brick.context)
            #expect(file.attributes.permissions == 0o666)
            let directory = try await brick.storage.makeDirectory(
                "shared", in: .root, id: .random(), permissions: 0o2777, context: OperationContext(userID: 5))
            #expect(directory.permissions == 0o2777)
            let fifo = try await brick.storage.makeNode(
                "pipe", in: .root, id: .random(), type: .fifo, permissions: 0o622, device: 0, context: brick.context)
            #expect(fifo.permissions == 0o622)
        }
    }

    @Test func createTakesTheCallersOwnership() async throws {
        try await TestBrick.with { brick in
            let context = OperationContext(userID: 1234, groupID: 5678)
            let created = try await brick.storage.create(
                "owned", in: .root, id: .random(), permissions: 0o644, flags: [.write, .create], context: context)
            #expect(created.attributes.userID == 1234)
            #expect(created.attributes.groupID == 5678)
        }
    }

    @Test func openByFileIDAndItsErrors() async throws {
        try await TestBrick.with { brick in
            let created = try await brick.createFile("file", contents: "abc")
            let reopened = try await brick.storage.open(created.attributes.id, flags: .read, context: brick.context)
            #expect(reopened.id == created.attributes.id)
            #expect(reopened.handle != created.file.handle)
            #expect(try await brick.readAll(reopened) == "abc")
            let directory = try await brick.makeDirectory("dir")
            await expectError(.isDirectory) {
                try await brick.storage.open(directory.id, flags: .readWrite, context: brick.context)
            }
            let directoryHandle = try await brick.storage.open(directory.id, flags: .read, context: brick.context)
            try await brick.storage.release(directoryHandle, context: brick.context)
            await expectError(.notFound) { try await brick.storage.open(.random(), flags: .read, context: brick.context) }
        }
    }

    @Test func readsAreShortOnlyAtEndOfFile() async throws {
        try await TestBrick.with { brick in
            let created = try await brick.createFile("short", contents: "0123456789")
            let middle = try await brick.storage.read(from: created.file, at: 2, count: 3, context: brick.context)
            #expect(String(buffer: middle) == "234")
            let tail = try await brick.storage.read(from: created.file, at: 8, count: 100, context: brick.context)
            #expect(String(buffer: tail) == "89")
            let past = try await brick.storage.read(from: created.file, at: 50, count: 10, context: brick.context)
            #expect(past.readableBytes == 0)
        }
    }

    @Test func unlinkedOpenFileStaysReadableAndItsIndexEntryGoes() async throws {
        try await TestBrick.with { brick in
            let created = try await brick.createFile("doomed", contents: "still here")
            let id = created.attributes.id
            try await brick.storage.unlink("doomed", in: .root, context: brick.context)
            #expect(!brick.indexEntryExists(id))
            #expect(try await brick.readAll(created.file) == "still here")
            let attributes = try await brick.storage.attributes(ofOpen: created.file, context: brick.context)
            #expect(attributes.id == id)
            #expect(attributes.linkCount == 0)
            await expectError(.notFound) { try await brick.storage.attributes(of: id, context: brick.context) }
            await expectError(.notFound) { try await brick.storage.lookup("doomed", in: .root, context: brick.context) }
            try await brick.storage.release(created.file, context: brick.context)
        }
    }

    @Test func indexEntryStaysUntilTheLastHardLinkGoes() async throws {
        try await TestBrick.with { brick in
            let created = try await brick.createFile("one", contents: "x")
            let id = created.attributes.id
            let linked = try await brick.storage.link(id, as: "two", in: .root, context: brick.context)
            #expect(linked.linkCount == 2)
            try await brick.storage.unlink("one", in: .root, context: brick.context)
            #expect(brick.indexEntryExists(id))
            #expect(try await brick.storage.attributes(of: id, context: brick.context).linkCount == 1)
            try await brick.storage.unlink("two", in: .root, context: brick.context)
            #expect(!brick.indexEntryExists(id))
            await expectError(.notFound) { try await brick.storage.unlink("two", in: .root, context: brick.context) }
        }
    }

    @Test func handleWithAnotherFileIDIsRefused() async throws {
        try await TestBrick.with { brick in
            let created = try await brick.createFile("mine", contents: "x")
            let forged = OpenFile(id: .random(), handle: created.file.handle)
            await expectError(.badFileHandle) { try await brick.readAll(forged) }
            await expectError(.badFileHandle) { try await brick.storage.release(forged, context: brick.context) }
            #expect(try await brick.readAll(created.file) == "x")
        }
    }

    @Test func concurrentWritesAtDifferentOffsetsAllLand() async throws {
        try await TestBrick.with { brick in
            let created = try await brick.createFile("parallel")
            let storage = brick.storage
            let context = brick.context
            try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<32 {
                    group.addTask {
                        let block = ByteBuffer(repeating: UInt8(65 + index % 26), count: 1024)
                        return try await storage.write(block, to: created.file, at: UInt64(index * 1024),
                                                       context: context)
                    }
                }
                for try await written in group { #expect(written == 1024) }
            }
            let bytes = Array(try await brick.storage.read(from: created.file, at: 0, count: 32 * 1024,
                                                           context: brick.context).readableBytesView)
            for index in 0..<32 {
                #expect(bytes[(index * 1024)..<((index + 1) * 1024)].allSatisfy { $0 == UInt8(65 + index % 26) })
            }
        }
    }

    @Test func openFileTableIsBounded() async throws {
        try await TestBrick.with(openFilesMax: 2) { brick in
            let first = try await brick.createFile("a")
            _ = try await brick.createFile("b")
            await expectError(.init(rawValue: EMFILE)) {
                try await brick.storage.open(first.attributes.id, flags: .read, context: brick.context)
            }
            try await brick.storage.release(first.file, context: brick.context)
            let again = try await brick.storage.open(first.attributes.id, flags: .read, context: brick.context)
            #expect(brick.storage.openHandleCount == 2)
            try await brick.storage.release(again, context: brick.context)
        }
    }

    @Test func truncateSynchronizeFlushAndLocks() async throws {
        try await TestBrick.with { brick in
            let created = try await brick.createFile("sized", contents: "0123456789")
            try await brick.storage.truncate(created.file, to: 4, context: brick.context)
            #expect(try await brick.storage.attributes(ofOpen: created.file, context: brick.context).size == 4)
            try await brick.storage.synchronize(created.file, dataOnly: true, context: brick.context)
            try await brick.storage.synchronize(created.file, dataOnly: false, context: brick.context)
            try await brick.storage.flush(created.file, context: brick.context)
            let request = LockRequest(kind: .write, start: 0, length: 0, owner: 1)
            await expectError(.notSupported) {
                try await brick.storage.lock(created.file, request, wait: false, context: brick.context)
            }
            await expectError(.notSupported) {
                try await brick.storage.testLock(created.file, request, context: brick.context)
            }
        }
    }
}
