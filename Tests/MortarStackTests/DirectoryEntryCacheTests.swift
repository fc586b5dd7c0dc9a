@testable import Mortar
import MortarCore
import MortarTesting
import NIOCore
import Testing

/// Path walks remember the directories they pass through: fewer lookups, and never a stale answer that this client
/// could have known about.
@Suite("Directory entries remembered by path walks")
struct DirectoryEntryCacheTests {
    /// A volume over an in-memory file system, with the operations that reach the file system recorded.
    private func makeVolume(over fileSystem: MemoryFileSystem = MemoryFileSystem()) -> (Volume, LayerHarness) {
        let harness = LayerHarness(next: fileSystem)
        return (Volume(stack: harness, name: "memory"), harness)
    }

    /// Creates /a/b/file and stats it, so `volume` remembers /a and /a/b.
    private func rememberFile(in volume: Volume) async throws {
        try await volume.makeDirectories("/a/b")
        try await volume.makeNode("/a/b/file", type: .regular, permissions: 0o644)
        _ = try await volume.attributes("/a/b/file")
    }

    @Test("a repeated stat looks up only the last component")
    func repeatedStat() async throws {
        let (volume, harness) = makeVolume()
        try await volume.makeDirectories("/a/b/c")
        try await volume.makeNode("/a/b/c/file", type: .regular, permissions: 0o644)
        _ = try await volume.attributes("/a/b/c/file")
        harness.clearRecorded()
        let attributes = try await volume.attributes("/a/b/c/file")
        #expect(attributes.type == .regular)
        #expect(harness.count(of: .lookup) == 1)
        // Creating and removing in a remembered directory costs no lookup at all.
        harness.clearRecorded()
        try await volume.makeNode("/a/b/c/other", type: .regular, permissions: 0o644)
        try await volume.unlink("/a/b/c/other")
        #expect(harness.count(of: .lookup) == 0)
    }

    @Test("this client's rename of a directory is seen at once")
    func ownRename() async throws {
        let (volume, _) = makeVolume()
        try await rememberFile(in: volume)
        try await volume.rename("/a", to: "/renamed")
        await #expect(throws: FileSystemError.self) { try await volume.attributes("/a/b/file") }
        #expect(try await volume.attributes("/renamed/b/file").type == .regular)
        // The old name as a parent is refused too, rather than creating inside the renamed directory.
        await #expect(throws: FileSystemError.self) {
            try await volume.makeNode("/a/b/new", type: .regular, permissions: 0o644)
        }
    }

    @Test("a directory replaced by another client is looked up again instead of failing")
    func replacedByAnotherClient() async throws {
        let fileSystem = MemoryFileSystem()
        let (first, _) = makeVolume(over: fileSystem)
        let (second, _) = makeVolume(over: fileSystem)
        try await first.makeDirectories("/a/b")
        try await first.makeNode("/a/b/old", type: .regular, permissions: 0o644)
        _ = try await first.attributes("/a/b/old")  // `first` now remembers /a and /a/b
        try await second.rename("/a", to: "/moved")
        try await second.makeDirectories("/a/b/c")
        try await second.makeNode("/a/b/c/new", type: .regular, permissions: 0o644)
        // The remembered /a/b is now /moved/b, which has no "c": the walk must retry with fresh lookups.
        #expect(try await first.attributes("/a/b/c/new").type == .regular)
        try await first.makeNode("/a/b/c/created", type: .regular, permissions: 0o644)
        #expect(try await second.attributes("/a/b/c/created").type == .regular)
    }

    @Test("a missing final name keeps the remembered directories")
    func missingNameKeepsCache() async throws {
        let (volume, harness) = makeVolume()
        try await volume.makeDirectories("/a/b")
        _ = try await volume.attributes("/a/b")
        await #expect(throws: FileSystemError.self) { try await volume.attributes("/a/b/absent") }
        harness.clearRecorded()
        try await volume.makeNode("/a/b/absent", type: .regular, permissions: 0o644)
        #expect(harness.count(of: .lookup) == 0)
    }

    @Test("each identity makes its own lookups")
    func perIdentity() async throws {
        let (volume, harness) = makeVolume()
        try await rememberFile(in: volume)
        volume.setCredentials(Volume.Credentials(userID: 1000, groupID: 1000))
        harness.clearRecorded()
        _ = try await volume.attributes("/a/b/file")
        #expect(harness.count(of: .lookup) == 3)
    }

    @Test("a directory's permission change empties the cache")
    func permissionChange() async throws {
        let (volume, harness) = makeVolume()
        try await rememberFile(in: volume)
        try await volume.setAttributes("/a", AttributeChanges(permissions: 0o700))
        harness.clearRecorded()
        _ = try await volume.attributes("/a/b/file")
        #expect(harness.count(of: .lookup) == 3)
    }

    @Test("entries expire and the cache stays within its capacity")
    func expiryAndCapacity() {
        var cache = DirectoryEntryCache(lifetime: .seconds(1), capacity: 3)
        let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
        let key = DirectoryEntryCache.Key(parent: .root, name: "a", credentials: Volume.Credentials())
        let id = FileID.random()
        cache.remember(key, directory: id, now: start)
        #expect(cache.directory(key, now: start + .milliseconds(999)) == id)
        #expect(cache.directory(key, now: start + .seconds(1)) == nil)
        for index in 0..<3 {
            let other = DirectoryEntryCache.Key(parent: .root, name: "d\(index)", credentials: Volume.Credentials())
            cache.remember(other, directory: .random(), now: start)
        }
        #expect(cache.count == 3)
        cache.remember(key, directory: id, now: start)
        #expect(cache.count == 1)
        #expect(cache.directory(key, now: start) == id)
    }
}
