import Foundation
import MortarCore
import MortarPosixStorage
import NIOCore
import Testing

/// Paths close to PATH_MAX on a brick that lives deep in its host's tree: the brick reaches objects through
/// directory descriptors, so only the volume's own path limits apply, never the brick directory's length.
@Suite("Paths close to PATH_MAX on a brick with a long directory path")
struct LongPathTests {
    /// About 200 bytes of brick directory under /tmp/mortar-storage-XXXXXX.
    static let brickNesting = (0..<4).map { String(repeating: Character(String($0)), count: 49) }

    static func component(_ letter: Character, length: Int = Limits.nameByteCountMax) -> String {
        String(repeating: letter, count: length)
    }

    @Test func everyOperationWorksOnAPathJustUnderPathMax() async throws {
        try await TestBrick.with(nesting: Self.brickNesting) { brick in
            #expect(brick.root.utf8.count > 200)
            let storage = brick.storage
            let context = brick.context
            // 15 directories of 255-byte names: "/d…/d…/…" is 15 × 256 = 3840 bytes.
            var directories: [FileID] = []
            var parent = FileID.root
            for index in 0..<15 {
                let name = Self.component(Character(UnicodeScalar(UInt8(97 + index))))
                parent = try await brick.makeDirectory(name, in: parent).id
                directories.append(parent)
            }
            let deepest = parent
            // A 250-byte file name: the volume path is 4090 bytes, the brick path well past PATH_MAX.
            let fileName = Self.component("f", length: 250)
            let created = try await brick.createFile(fileName, in: deepest, contents: "deep data")
            #expect(try await brick.readAll(created.file) == "deep data")
            try await storage.release(created.file, context: context)
            let id = created.attributes.id

            // stat by name and by FileID; open by FileID.
            #expect(try await storage.lookup(fileName, in: deepest, context: context).id == id)
            #expect(try await storage.attributes(of: id, context: context).size == 9)
            #expect(try await storage.attributes(of: deepest, context: context).type == .directory)
            let reopened = try await storage.open(id, flags: [.read], context: context)
            #expect(try await brick.readAll(reopened) == "deep data")
            try await storage.release(reopened, context: context)
            let changed = try await storage.setAttributes(
                AttributeChanges(permissions: 0o600, size: 4), of: id, context: context)
            #expect(changed.permissions == 0o600 && changed.size == 4)
            #expect(try await storage.setAttributes(
                AttributeChanges(permissions: 0o700), of: deepest, context: context).permissions == 0o700)

            // Names: 255 bytes work, 256 are ENAMETOOLONG.
            let longest = Self.component("n")
            let made = try await brick.createFile(longest, in: deepest)
            try await storage.release(made.file, context: context)
            await expectError(.nameTooLong) { try await brick.createFile(Self.component("n", length: 256), in: deepest) }
            await expectError(.nameTooLong) {
                try await brick.makeDirectory(Self.component("m", length: 256), in: deepest)
            }

            // rename within the deepest directory and across levels; a directory rename keeps FileIDs.
            let renamed = Self.component("r", length: 250)
            try await storage.rename(fileName, in: deepest, to: renamed, in: deepest, flags: [], context: context)
            #expect(try await storage.lookup(renamed, in: deepest, context: context).id == id)
            try await storage.rename(
                renamed, in: deepest, to: renamed, in: directories[13], flags: [], context: context)
            try await storage.rename(
                renamed, in: directories[13], to: renamed, in: deepest, flags: [], context: context)
            let middleName = Self.component("h")
            try await storage.rename(
                middleName, in: directories[6], to: Self.component("z"), in: directories[6], flags: [], context: context)
            try await storage.rename(
                Self.component("z"), in: directories[6], to: middleName, in: directories[6], flags: [],
                context: context)
            #expect(try await storage.attributes(of: deepest, context: context).id == deepest)

            // hard link, symbolic link, readlink
            let linkName = Self.component("l", length: 250)
            #expect(try await storage.link(id, as: linkName, in: deepest, context: context).linkCount == 2)
            let target = String(repeating: "t/", count: 1000)
            let symbolic = try await storage.makeSymbolicLink(
                Self.component("s", length: 250), in: deepest, id: .random(), target: target, context: context)
            #expect(try await storage.readSymbolicLink(symbolic.id, context: context) == target)
            #expect(try await storage.lookup(Self.component("s", length: 250), in: deepest, context: context).type
                == .symbolicLink)

            // extended attributes on a file and on the deepest directory
            for object in [id, deepest] {
                try await storage.setExtendedAttribute(
                    "user.deep", to: Array("v".utf8), mode: .createOnly, of: object, context: context)
                #expect(try await storage.extendedAttribute("user.deep", of: object, context: context)
                    == Array("v".utf8))
                #expect(try await storage.extendedAttributeNames(of: object, context: context).contains("user.deep"))
                try await storage.removeExtendedAttribute("user.deep", of: object, context: context)
                await expectError(.noData) {
                    try await storage.extendedAttribute("user.deep", of: object, context: context)
                }
            }

            // readdir
            let page = try await storage.readDirectory(deepest, after: 0, countMax: 100, context: context)
            #expect(Set(page.entries.map(\.name))
                == [renamed, longest, linkName, Self.component("s", length: 250)])
            #expect(page.entries.first { $0.name == renamed }?.attributes.id == id)

            // unlink and rmdir, bottom-up; the directory tree is gone afterwards.
            for name in [renamed, longest, linkName, Self.component("s", length: 250)] {
                try await storage.unlink(name, in: deepest, context: context)
            }
            await expectError(.notFound) { try await storage.attributes(of: id, context: context) }
            for index in stride(from: 14, through: 0, by: -1) {
                let holder = index == 0 ? FileID.root : directories[index - 1]
                try await storage.removeDirectory(
                    Self.component(Character(UnicodeScalar(UInt8(97 + index)))), in: holder, context: context)
            }
            #expect(try await storage.readDirectory(.root, after: 0, countMax: 10, context: context).entries.isEmpty)
        }
    }

    /// Each operation on a directory opens it and must close it again, on success and on failure alike. Other
    /// suites run in this process at the same time, so the bound is loose: a leak of one descriptor per call
    /// would add 2,000.
    @Test func directoryDescriptorsAreClosedOnEveryPath() async throws {
        try await TestBrick.with { brick in
            let storage = brick.storage
            let context = brick.context
            let top = try await brick.makeDirectory("top").id
            let middle = try await brick.makeDirectory("middle", in: top).id
            let file = try await brick.createFile("file", in: middle)
            try await storage.release(file.file, context: context)
            let before = try Self.openDescriptorCount()
            for _ in 0..<250 {
                _ = try await storage.attributes(of: middle, context: context)
                _ = try await storage.lookup("file", in: middle, context: context)
                _ = try await storage.readDirectory(middle, after: 0, countMax: 10, context: context)
                _ = try await storage.extendedAttributeNames(of: middle, context: context)
                await expectError(.notFound) { try await storage.lookup("missing", in: middle, context: context) }
                await expectError(.exists) { try await brick.makeDirectory("middle", in: top) }
                await expectError(.noData) { try await storage.extendedAttribute("user.x", of: middle, context: context) }
                await expectError(.notDirectory) { try await storage.lookup("x", in: file.attributes.id, context: context) }
            }
            #expect(try Self.openDescriptorCount() < before + 500)
        }
    }

    static func openDescriptorCount() throws -> Int {
        try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count
    }
}
