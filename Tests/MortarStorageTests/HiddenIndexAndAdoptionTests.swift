import Foundation
import MortarCore
import MortarPosixStorage
import NIOCore
import Testing

@Suite("The hidden index and adoption of administrator-made objects")
struct HiddenIndexAndAdoptionTests {
    @Test func hiddenDirectoryIsInvisibleAndReserved() async throws {
        try await TestBrick.with { brick in
            _ = try await brick.createFile("visible")
            let page = try await brick.storage.readDirectory(.root, after: 0, countMax: 100, context: brick.context)
            #expect(page.entries.map(\.name) == ["visible"])
            #expect(page.nextCookie == nil)
            await expectError(.notFound) { try await brick.storage.lookup(".mortar", in: .root, context: brick.context) }
            await expectError(.operationNotPermitted) { try await brick.createFile(".mortar") }
            await expectError(.operationNotPermitted) { try await brick.makeDirectory(".mortar") }
            await expectError(.operationNotPermitted) {
                try await brick.storage.rename("visible", in: .root, to: ".mortar", in: .root, flags: [],
                                               context: brick.context)
            }
            // Only the volume root reserves the name.
            let directory = try await brick.makeDirectory("sub")
            _ = try await brick.makeDirectory(".mortar", in: directory.id)
            // The root's link count hides the index directory: 2 for itself plus one per visible subdirectory.
            #expect(try await brick.storage.attributes(of: .root, context: brick.context).linkCount == 3)
        }
    }

    @Test func adminCreatedFileAndDirectoryAreAdopted() async throws {
        try await TestBrick.with { brick in
            let manager = FileManager.default
            try manager.createDirectory(atPath: brick.root + "/admin-dir/nested", withIntermediateDirectories: true)
            #expect(manager.createFile(atPath: brick.root + "/admin-dir/nested/report", contents: Data("abc".utf8)))
            let directory = try await brick.storage.lookup("admin-dir", in: .root, context: brick.context)
            #expect(directory.type == .directory)
            #expect(brick.indexEntryExists(directory.id))
            #expect(try await brick.storage.lookup("admin-dir", in: .root, context: brick.context).id == directory.id)
            let page = try await brick.storage.readDirectory(directory.id, after: 0, countMax: 10, context: brick.context)
            let nested = try #require(page.entries.first)
            #expect(nested.name == "nested" && nested.attributes.type == .directory)
            let report = try await brick.storage.lookup("report", in: nested.attributes.id, context: brick.context)
            #expect(report.size == 3 && report.linkCount == 1)
            #expect(try await brick.storage.attributes(of: report.id, context: brick.context).id == report.id)
            // The adopted nested directory resolves by FileID after its parent moves.
            try await brick.storage.rename("admin-dir", in: .root, to: "renamed", in: .root, flags: [],
                                           context: brick.context)
            let again = try await brick.storage.readDirectory(nested.attributes.id, after: 0, countMax: 10,
                                                              context: brick.context)
            #expect(again.entries.map(\.name) == ["report"])
            #expect(again.entries.first?.attributes.id == report.id)
        }
    }

    @Test func directoryRenamedBehindTheBricksBackIsRepairedOnLookup() async throws {
        try await TestBrick.with { brick in
            let directory = try await brick.makeDirectory("original")
            try FileManager.default.moveItem(atPath: brick.root + "/original", toPath: brick.root + "/by-hand")
            await expectError(.notFound) { try await brick.storage.attributes(of: directory.id, context: brick.context) }
            #expect(try await brick.storage.lookup("by-hand", in: .root, context: brick.context).id == directory.id)
            #expect(try await brick.storage.attributes(of: directory.id, context: brick.context).id == directory.id)
        }
    }

    /// `cp -a` run as root copies `trusted.mortar.id`; the copy must get its own FileID, not steal the original's.
    @Test func copiesWithTheOriginalsFileIDGetTheirOwn() async throws {
        try await TestBrick.with { brick in
            let file = try await brick.createFile("original", contents: "1")
            let directory = try await brick.makeDirectory("folder")
            for (source, copy) in [("original", "copy"), ("folder", "folder-copy")] {
                let process = try Process.run(
                    URL(fileURLWithPath: "/bin/cp"), arguments: ["-a", brick.root + "/" + source, brick.root + "/" + copy])
                process.waitUntilExit()
                try #require(process.terminationStatus == 0, "cp -a \(source) failed")
            }
            let fileCopy = try await brick.storage.lookup("copy", in: .root, context: brick.context)
            let directoryCopy = try await brick.storage.lookup("folder-copy", in: .root, context: brick.context)
            #expect(fileCopy.id != file.attributes.id && fileCopy.linkCount == 1)
            #expect(directoryCopy.id != directory.id)
            #expect(try await brick.storage.lookup("original", in: .root, context: brick.context).id == file.attributes.id)
            #expect(try await brick.storage.lookup("folder", in: .root, context: brick.context).id == directory.id)
            #expect(try await brick.storage.attributes(of: directory.id, context: brick.context).id == directory.id)
            #expect(try await brick.storage.attributes(of: directoryCopy.id, context: brick.context).id == directoryCopy.id)
        }
    }
}
