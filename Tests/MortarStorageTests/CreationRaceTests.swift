import Foundation
import MortarCore
import MortarPosixStorage
import Testing

/// A name appears on a brick only with its FileID. A lookup that runs while a create or mkdir of the same name is
/// under way (another client, a replica's retry arriving beside the forward it repeats) finds either nothing or
/// the object with the FileID its creator gave it — never a half-made object it would adopt under a fresh FileID,
/// which made the creator's own FileID "already in use", and a replica set's copies disagree on the object.
@Suite("Creation and lookup racing")
struct CreationRaceTests {
    static let rounds = 300

    /// What the lookups of one round saw: FileIDs other than the creator's, and how many found the name.
    struct Seen: Sendable {
        var foreign: [FileID] = []
        var found = 0
    }

    /// Looks `name` up until it exists (bounded: the creator makes it within these tries or fails the round).
    static func lookUntilFound(_ name: String, _ brick: TestBrick) async -> (id: FileID?, error: (any Error)?) {
        for _ in 0..<10_000 {
            do {
                return (try await brick.storage.lookup(name, in: .root, context: brick.context).id, nil)
            } catch let error as FileSystemError where error.code == .notFound {
                continue
            } catch {
                return (nil, error)
            }
        }
        return (nil, nil)
    }

    @Test func aFileIsNeverSeenWithoutItsFileID() async throws {
        try await TestBrick.with { brick in
            var foreign = 0
            var failures: [String] = []
            for round in 0..<Self.rounds {
                let name = "file-\(round)"
                let id = FileID.random()
                async let looked = Self.lookUntilFound(name, brick)
                async let retried: FileSystemError.Code? = {
                    // A second exclusive create of the same name and FileID, as a replica's retry makes it.
                    do {
                        let again = try await brick.storage.create(
                            name, in: .root, id: id, permissions: 0o644, flags: [.readWrite, .create, .exclusive],
                            context: brick.context)
                        try await brick.storage.release(again.file, context: brick.context)
                        return nil
                    } catch let error as FileSystemError {
                        return error.code
                    }
                }()
                do {
                    let created = try await brick.storage.create(
                        name, in: .root, id: id, permissions: 0o644, flags: [.readWrite, .create, .exclusive],
                        context: brick.context)
                    try await brick.storage.release(created.file, context: brick.context)
                } catch let error as FileSystemError where error.code == .exists {
                    // The retry made it first: allowed, it carries the same FileID.
                } catch {
                    failures.append("create of \(name): \(error)")
                }
                let (seen, lookError) = await looked
                if let lookError { failures.append("lookup of \(name): \(lookError)") }
                if let seen, seen != id { foreign += 1 }
                if let code = try await retried, code != .exists { failures.append("second create of \(name): \(code)") }
                let final = try await brick.storage.lookup(name, in: .root, context: brick.context)
                #expect(final.id == id, "\(name) ended with FileID \(final.id), created as \(id)")
            }
            #expect(foreign == 0, "\(foreign) of \(Self.rounds) lookups saw a file under a FileID its creator did not give it")
            #expect(failures.isEmpty, "\(failures.count) failures, first: \(failures.prefix(3))")
        }
    }

    @Test func aDirectoryIsNeverSeenWithoutItsFileID() async throws {
        try await TestBrick.with { brick in
            var foreign = 0
            var failures: [String] = []
            for round in 0..<Self.rounds {
                let name = "directory-\(round)"
                let id = FileID.random()
                async let looked = Self.lookUntilFound(name, brick)
                do {
                    _ = try await brick.storage.makeDirectory(
                        name, in: .root, id: id, permissions: 0o755, context: brick.context)
                } catch {
                    failures.append("mkdir of \(name): \(error)")
                }
                let (seen, lookError) = await looked
                if let lookError { failures.append("lookup of \(name): \(lookError)") }
                if let seen, seen != id { foreign += 1 }
                let final = try await brick.storage.lookup(name, in: .root, context: brick.context)
                #expect(final.id == id, "\(name) ended with FileID \(final.id), made as \(id)")
            }
            #expect(foreign == 0, "\(foreign) of \(Self.rounds) lookups saw a directory under a FileID its maker did not give it")
            #expect(failures.isEmpty, "\(failures.count) failures, first: \(failures.prefix(3))")
        }
    }

    /// What a stop left in staging (objects whose creation it interrupted, under no name) is removed when the
    /// brick opens again, and never shows in the volume.
    @Test func aRestartRemovesInterruptedCreations() async throws {
        try await TestBrick.with { brick in
            let staging = brick.root + "/.mortar/staging"
            var isDirectory: ObjCBool = false
            #expect(FileManager.default.fileExists(atPath: staging, isDirectory: &isDirectory) && isDirectory.boolValue)
            _ = try await brick.createFile("kept", contents: "kept")
            #expect(try FileManager.default.contentsOfDirectory(atPath: staging).isEmpty, "a creation left its staged object")
            #expect(FileManager.default.createFile(atPath: staging + "/interrupted-file", contents: Data("x".utf8)))
            try FileManager.default.createDirectory(atPath: staging + "/interrupted-directory", withIntermediateDirectories: false)
            try FileManager.default.createSymbolicLink(atPath: staging + "/interrupted-link", withDestinationPath: "/etc")
            let reopened = try await PosixStorage.prepare(
                root: brick.root, threadPool: .singleton, logger: OperationContext.silentLogger)
            #expect(try FileManager.default.contentsOfDirectory(atPath: staging).isEmpty)
            let page = try await reopened.readDirectory(.root, after: 0, countMax: 100, context: brick.context)
            #expect(page.entries.map(\.name) == ["kept"])
        }
    }
}
