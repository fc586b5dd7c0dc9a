import Foundation
import MortarCore
import MortarPosixStorage
import NIOCore
import Testing

@Suite("Namespace: directories, names, renames, links")
struct NamespaceTests {
    @Test func makeLookUpAndRemoveDirectories() async throws {
        try await TestBrick.with { brick in
            let id = FileID.random()
            let made = try await brick.storage.makeDirectory(
                "docs", in: .root, id: id, permissions: 0o750, context: OperationContext(userID: 7, groupID: 8))
            #expect(made.id == id && made.type == .directory && made.permissions == 0o750)
            #expect(made.userID == 7 && made.groupID == 8)
            #expect(try await brick.storage.lookup("docs", in: .root, context: brick.context).id == id)
            await expectError(.exists) { try await brick.makeDirectory("docs") }
            _ = try await brick.createFile("inside", in: id)
            await expectError(.notEmpty) { try await brick.storage.removeDirectory("docs", in: .root, context: brick.context) }
            await expectError(.isDirectory) { try await brick.storage.unlink("docs", in: .root, context: brick.context) }
            await expectError(.notDirectory) {
                try await brick.storage.removeDirectory("inside", in: id, context: brick.context)
            }
            try await brick.storage.unlink("inside", in: id, context: brick.context)
            try await brick.storage.removeDirectory("docs", in: .root, context: brick.context)
            #expect(!brick.indexEntryExists(id))
            await expectError(.notFound) { try await brick.storage.attributes(of: id, context: brick.context) }
            await expectError(.notFound) { try await brick.storage.lookup("docs", in: .root, context: brick.context) }
        }
    }

    @Test func namesAreValidated() async throws {
        try await TestBrick.with { brick in
            for name in ["", ".", "..", "a/b", "nul\0byte"] {
                await expectError(.invalidArgument) { try await brick.makeDirectory(name) }
                await expectError(.invalidArgument) { try await brick.storage.lookup(name, in: .root, context: brick.context) }
            }
            await expectError(.nameTooLong) { try await brick.createFile(String(repeating: "n", count: 256)) }
            let file = try await brick.createFile("plain")
            await expectError(.notDirectory) {
                try await brick.storage.lookup("child", in: file.attributes.id, context: brick.context)
            }
            await expectError(.notDirectory) { try await brick.makeDirectory("child", in: file.attributes.id) }
            await expectError(.notFound) { try await brick.makeDirectory("child", in: .random()) }
        }
    }

    @Test func fileKeepsItsFileIDAcrossRename() async throws {
        try await TestBrick.with { brick in
            let directory = try await brick.makeDirectory("elsewhere")
            let created = try await brick.createFile("before", contents: "payload")
            let id = created.attributes.id
            try await brick.storage.rename("before", in: .root, to: "after", in: directory.id, flags: [], context: brick.context)
            #expect(try await brick.storage.attributes(of: id, context: brick.context).size == 7)
            #expect(try await brick.storage.lookup("after", in: directory.id, context: brick.context).id == id)
            await expectError(.notFound) { try await brick.storage.lookup("before", in: .root, context: brick.context) }
        }
    }

    /// Renaming a directory two levels above another must leave the deep one reachable by FileID: only the renamed
    /// directory's index entry changes, and the chain is resolved in Swift.
    @Test func deepDirectoryResolvesAfterAnAncestorIsRenamed() async throws {
        try await TestBrick.with { brick in
            let top = try await brick.makeDirectory("top")
            let middle = try await brick.makeDirectory("middle", in: top.id)
            let deep = try await brick.makeDirectory("deep", in: middle.id)
            let file = try await brick.createFile("leaf", in: deep.id, contents: "deep data")
            let other = try await brick.makeDirectory("other")
            try await brick.storage.rename("top", in: .root, to: "moved", in: other.id, flags: [], context: brick.context)
            let attributes = try await brick.storage.attributes(of: deep.id, context: brick.context)
            #expect(attributes.id == deep.id && attributes.type == .directory)
            #expect(try await brick.storage.lookup("leaf", in: deep.id, context: brick.context).id == file.attributes.id)
            let page = try await brick.storage.readDirectory(deep.id, after: 0, countMax: 10, context: brick.context)
            #expect(page.entries.map(\.name) == ["leaf"])
            #expect(FileManager.default.fileExists(atPath: brick.root + "/other/moved/middle/deep/leaf"))
            #expect(try await brick.storage.attributes(of: file.attributes.id, context: brick.context).size == 9)
        }
    }

    @Test func renameFlagsAndReplacedTargets() async throws {
        try await TestBrick.with { brick in
            let first = try await brick.createFile("first", contents: "1")
            let second = try await brick.createFile("second", contents: "22")
            await expectError(.exists) {
                try await brick.storage.rename("first", in: .root, to: "second", in: .root, flags: .noReplace,
                                               context: brick.context)
            }
            try await brick.storage.rename("first", in: .root, to: "second", in: .root, flags: .exchange,
                                           context: brick.context)
            #expect(try await brick.storage.lookup("second", in: .root, context: brick.context).id == first.attributes.id)
            #expect(try await brick.storage.lookup("first", in: .root, context: brick.context).id == second.attributes.id)
            // Replacing a file whose last name that was removes its index entry.
            try await brick.storage.rename("first", in: .root, to: "second", in: .root, flags: [], context: brick.context)
            #expect(!brick.indexEntryExists(first.attributes.id))
            #expect(brick.indexEntryExists(second.attributes.id))
            await expectError(.notFound) {
                try await brick.storage.rename("absent", in: .root, to: "x", in: .root, flags: [], context: brick.context)
            }
        }
    }

    @Test func exchangedDirectoriesStayReachable() async throws {
        try await TestBrick.with { brick in
            let left = try await brick.makeDirectory("left")
            let right = try await brick.makeDirectory("right")
            _ = try await brick.createFile("in-left", in: left.id)
            try await brick.storage.rename("left", in: .root, to: "right", in: .root, flags: .exchange,
                                           context: brick.context)
            #expect(try await brick.storage.lookup("in-left", in: left.id, context: brick.context).type == .regular)
            #expect(try await brick.storage.lookup("right", in: .root, context: brick.context).id == left.id)
            #expect(try await brick.storage.attributes(of: right.id, context: brick.context).id == right.id)
        }
    }

    @Test func hardLinksOfDirectoriesAreRefused() async throws {
        try await TestBrick.with { brick in
            let directory = try await brick.makeDirectory("dir")
            await expectError(.operationNotPermitted) {
                try await brick.storage.link(directory.id, as: "alias", in: .root, context: brick.context)
            }
        }
    }

    @Test func symbolicLinksAndNodes() async throws {
        try await TestBrick.with { brick in
            let id = FileID.random()
            let link = try await brick.storage.makeSymbolicLink(
                "pointer", in: .root, id: id, target: "../outside/target", context: brick.context)
            #expect(link.id == id && link.type == .symbolicLink && link.linkCount == 1)
            #expect(try await brick.storage.readSymbolicLink(id, context: brick.context) == "../outside/target")
            #expect(brick.indexEntryExists(id))
            await expectError(.symbolicLinkLoop) { try await brick.storage.open(id, flags: .read, context: brick.context) }
            await expectError(.invalidArgument) { try await brick.storage.readSymbolicLink(.root, context: brick.context) }
            let fifo = try await brick.storage.makeNode(
                "pipe", in: .root, id: .random(), type: .fifo, permissions: 0o600, device: 0, context: brick.context)
            #expect(fifo.type == .fifo)
            let socket = try await brick.storage.makeNode(
                "socket", in: .root, id: .random(), type: .socket, permissions: 0o600, device: 0, context: brick.context)
            #expect(socket.type == .socket)
            // A real device node on the brick with the device number, never opened there.
            let disk = try await brick.storage.makeNode(
                "disk", in: .root, id: .random(), type: .blockDevice, permissions: 0o640, device: deviceNumber(7, 200),
                context: brick.context)
            #expect(disk.type == .blockDevice && disk.permissions == 0o640 && disk.deviceNumber == deviceNumber(7, 200))
            var status = stat()
            #expect(lstat(brick.root + "/disk", &status) == 0)
            #expect(status.st_mode & S_IFMT == S_IFBLK && status.st_rdev == deviceNumber(7, 200))
            let tty = try await brick.storage.makeNode(
                "tty", in: .root, id: .random(), type: .characterDevice, permissions: 0o620, device: deviceNumber(4, 1),
                context: brick.context)
            #expect(try await brick.storage.lookup("tty", in: .root, context: brick.context).deviceNumber
                == deviceNumber(4, 1))
            await expectError(.noSuchDeviceOrAddress) {
                try await brick.storage.open(tty.id, flags: .read, context: brick.context)
            }
            await expectError(.noSuchDeviceOrAddress) {
                try await brick.storage.create(
                    "disk", in: .root, id: .random(), permissions: 0o600, flags: [.readWrite], context: brick.context)
            }
            // Renames, links and removals treat it as any other file.
            try await brick.storage.rename("tty", in: .root, to: "tty2", in: .root, flags: [], context: brick.context)
            let linked = try await brick.storage.link(tty.id, as: "tty3", in: .root, context: brick.context)
            #expect(linked.linkCount == 2 && linked.deviceNumber == deviceNumber(4, 1))
            try await brick.storage.unlink("tty2", in: .root, context: brick.context)
            try await brick.storage.unlink("tty3", in: .root, context: brick.context)
            #expect(!brick.indexEntryExists(tty.id))
            try await brick.storage.unlink("pointer", in: .root, context: brick.context)
            #expect(!brick.indexEntryExists(id))
        }
    }

    @Test func creatingWithAFileIDInUseFailsAndLeavesNothing() async throws {
        try await TestBrick.with { brick in
            let directory = try await brick.makeDirectory("first")
            await expectError(.exists) {
                try await brick.storage.makeDirectory(
                    "second", in: .root, id: directory.id, permissions: 0o755, context: brick.context)
            }
            #expect(!FileManager.default.fileExists(atPath: brick.root + "/second"))
            #expect(try await brick.storage.attributes(of: directory.id, context: brick.context).id == directory.id)
        }
    }

    @Test func fileSystemStatistics() async throws {
        try await TestBrick.with { brick in
            let statistics = try await brick.storage.fileSystemStatistics(context: brick.context)
            #expect(statistics.blocks > 0)
            #expect(statistics.nameLengthMax >= 255)
        }
    }
}

/// glibc's `makedev` (a C macro Swift cannot call).
private func deviceNumber(_ major: UInt64, _ minor: UInt64) -> UInt64 {
    ((major & 0xffff_f000) << 32) | ((major & 0xfff) << 8) | ((minor & 0xffff_ff00) << 12) | (minor & 0xff)
}
