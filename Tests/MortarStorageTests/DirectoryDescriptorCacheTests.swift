import Foundation
import Glibc
import MortarCore
import NIOCore
import Testing

@testable import MortarPosixStorage

/// The brick's cache of open directories: a directory found once is not walked to again, its descriptor stays right
/// when the directory is renamed, and a directory removed — through the brick or by hand — is never served from it.
@Suite("Cached directory descriptors")
struct DirectoryDescriptorCacheTests {
    private static func inode(_ descriptor: Int32) -> ino_t {
        var status = stat()
        return fstat(descriptor, &status) == 0 ? status.st_ino : 0
    }

    @Test func duplicatesAreHandedOutAndTheLeastRecentlyUsedGoesFirst() throws {
        let top = try TestBrick.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: top) }
        let cache = DirectoryDescriptorCache(capacity: 2)
        var ids: [FileID] = []
        var inodes: [ino_t] = []
        for name in ["a", "b", "c"] {
            try FileManager.default.createDirectory(atPath: "\(top)/\(name)", withIntermediateDirectories: false)
            let descriptor = open("\(top)/\(name)", O_RDONLY | O_DIRECTORY)
            try #require(descriptor >= 0)
            let id = FileID.random()
            cache.keep(descriptor, of: id, subject: "/\(name)")
            inodes.append(Self.inode(descriptor))
            close(descriptor)  // the cache holds its own
            ids.append(id)
            if name == "b" {
                // "a" is used after "b" was kept, so "b" is the least recently used when "c" comes.
                let used = try #require(cache.descriptor(of: ids[0]))
                close(used.descriptor)
            }
        }
        #expect(cache.count == 2)
        #expect(cache.descriptor(of: ids[1]) == nil, "the least recently used was evicted")
        for index in [0, 2] {
            let held = try #require(cache.descriptor(of: ids[index]))
            #expect(Self.inode(held.descriptor) == inodes[index])
            #expect(held.subject == ["/a", "/b", "/c"][index])
            close(held.descriptor)
        }
        cache.remove(ids[0])
        #expect(cache.descriptor(of: ids[0]) == nil)
        cache.close()
        #expect(cache.count == 0)
        let descriptor = open(top, O_RDONLY | O_DIRECTORY)
        cache.keep(descriptor, of: .random(), subject: "/")
        close(descriptor)
        #expect(cache.count == 0, "a closed cache keeps nothing")
    }

    @Test func aDirectoryRemovedByHandIsDroppedOnItsNextUse() throws {
        let top = try TestBrick.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: top) }
        try FileManager.default.createDirectory(atPath: "\(top)/gone", withIntermediateDirectories: false)
        let descriptor = open("\(top)/gone", O_RDONLY | O_DIRECTORY)
        try #require(descriptor >= 0)
        let cache = DirectoryDescriptorCache(capacity: 4)
        let id = FileID.random()
        cache.keep(descriptor, of: id, subject: "/gone")
        close(descriptor)
        try FileManager.default.removeItem(atPath: "\(top)/gone")
        #expect(cache.descriptor(of: id) == nil)
        #expect(cache.count == 0)
    }

    /// Through the storage: requests in a renamed directory keep working (its descriptor follows it), a directory
    /// removed and made again under the same name is the new one, and a removed directory's FileID is not found.
    @Test func theStorageStaysRightAcrossRenamesAndRemovals() async throws {
        try await TestBrick.with { brick in
            let context = brick.context
            let directory = try await brick.makeDirectory("d")
            _ = try await brick.createFile("inside", in: directory.id, contents: "x")
            _ = try await brick.storage.lookup("inside", in: directory.id, context: context)  // cached now
            try await brick.storage.rename("d", in: .root, to: "moved", in: .root, flags: [], context: context)
            #expect(try await brick.storage.lookup("inside", in: directory.id, context: context).size == 1)
            let made = try await brick.makeDirectory("new", in: directory.id)
            #expect(FileManager.default.fileExists(atPath: brick.root + "/moved/new"), "made in the moved directory")
            _ = made

            try await brick.storage.removeDirectory("new", in: directory.id, context: context)
            await expectError(.notFound) {
                _ = try await brick.storage.lookup("anything", in: made.id, context: context)
            }
            let again = try await brick.makeDirectory("new", in: directory.id)
            _ = try await brick.createFile("f", in: again.id, contents: "yz")
            #expect(try await brick.storage.lookup("f", in: again.id, context: context).size == 2)

            // Removed by hand, behind the brick's back: not served from the cache.
            _ = try await brick.storage.lookup("f", in: again.id, context: context)
            try FileManager.default.removeItem(atPath: brick.root + "/moved/new")
            await #expect(throws: FileSystemError.self) {
                _ = try await brick.storage.lookup("f", in: again.id, context: context)
            }
        }
    }
}
