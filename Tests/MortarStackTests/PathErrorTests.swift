@testable import Mortar
import MortarCore
import MortarTesting
import Testing

/// Layers know directories only by FileID, so their ENOENT says "no entry 'b' in 00000000-…-0001"; the library
/// knows the path its caller gave, and its errors name that instead.
@Suite("Errors name paths, not FileIDs")
struct PathErrorTests {
    private func message(_ body: () async throws -> Void) async -> FileSystemError? {
        do {
            try await body()
            return nil
        } catch {
            return FileSystemError.wrapping(error)
        }
    }

    private func expectMissing(
        _ expected: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> Void
    ) async {
        let error = await message(body)
        #expect(error?.code == .notFound, "\(String(describing: error))", sourceLocation: sourceLocation)
        #expect(error?.message == expected, sourceLocation: sourceLocation)
        #expect(error.map { !$0.message.contains(FileID.root.description) } == true,
                "names a FileID: \(String(describing: error))", sourceLocation: sourceLocation)
    }

    @Test func missingNamesAreReportedByPath() async throws {
        let volume = Volume(stack: MemoryFileSystem(), name: "memory")
        try await volume.makeDirectories("/a/b")
        try await volume.makeSymbolicLink("/a/link", target: "/a/b")

        await expectMissing("'/a/missing' does not exist") { _ = try await volume.attributes("/a/missing") }
        await expectMissing("'/a/b/c/d': '/a/b/c' does not exist") { _ = try await volume.attributes("/a/b/c/d") }
        await expectMissing("'/a/y' does not exist") { _ = try await volume.open("/a/y", flags: .read) }
        await expectMissing("'/x/y': '/x' does not exist") {
            _ = try await volume.open("/x/y", flags: [.readWrite, .create])
        }
        await expectMissing("'/x/y': '/x' does not exist") { try await volume.makeDirectory("/x/y") }
        await expectMissing("'/a/link/z': '/a/b/z' does not exist") { _ = try await volume.attributes("/a/link/z") }
        await expectMissing("'/a/none' does not exist") { try await volume.unlink("/a/none") }
        await expectMissing("'/a/none' does not exist") { try await volume.removeDirectory("/a/none") }
        await expectMissing("'/a/none' does not exist") { try await volume.rename("/a/none", to: "/a/other") }
        await expectMissing("'/a/none' does not exist") { _ = try await volume.canonicalPath("/a/none") }
        await expectMissing("'/a/none/..': '/a/none' does not exist") {
            _ = try await volume.canonicalPath("/a/none/..")
        }
    }
}
