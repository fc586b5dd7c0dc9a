import Foundation
import MortarCore
import MortarPosixStorage
import NIOCore
import NIOPosix
import Testing

/// A brick on a fresh temporary directory, removed again after the test.
struct TestBrick {
    let root: String
    let storage: PosixStorage
    let context = OperationContext()

    /// Runs `body` against a brick in a new directory under /tmp, then deletes the directory.
    ///
    /// - Parameter nesting: names of directories made under the temporary directory, the last being the brick
    ///   root, for a brick whose own path is long.
    static func with<Result>(
        openFilesMax: Int = Limits.openFilesPerBrickMax, nesting: [String] = [],
        inlineWriteSlowMicroseconds: Int64 = Limits.brickInlineWriteSlowMicroseconds,
        inlineMetadataSlowMicroseconds: Int64 = Limits.brickInlineMetadataSlowMicroseconds,
        _ body: (TestBrick) async throws -> Result
    ) async throws -> Result {
        let top = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: top) }
        var root = top
        for name in nesting {
            root += "/" + name
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: false)
        }
        let storage = try await PosixStorage.prepare(
            root: root, threadPool: .singleton, logger: OperationContext.silentLogger, openFilesMax: openFilesMax,
            inlineWriteSlowMicroseconds: inlineWriteSlowMicroseconds,
            inlineMetadataSlowMicroseconds: inlineMetadataSlowMicroseconds)
        return try await body(TestBrick(root: root, storage: storage))
    }

    static func makeTemporaryDirectory() throws -> String {
        var template = Array("/tmp/mortar-storage-XXXXXX".utf8CString)
        guard let pointer = mkdtemp(&template) else {
            throw FileSystemError.fromErrno("mkdtemp", "/tmp/mortar-storage-XXXXXX")
        }
        return String(cString: pointer)
    }

    /// Where the handle index keeps `id` on this brick.
    func indexPath(of id: FileID) -> String {
        let bytes = id.bytes
        return root + "/.mortar/handles/" + String(format: "%02x/%02x/", bytes[0], bytes[1]) + id.description
    }

    func indexEntryExists(_ id: FileID) -> Bool {
        var status = stat()
        return lstat(indexPath(of: id), &status) == 0
    }

    // Short forms of the operations most tests use.

    func makeDirectory(_ name: String, in parent: FileID = .root) async throws -> FileAttributes {
        try await storage.makeDirectory(name, in: parent, id: .random(), permissions: 0o755, context: context)
    }

    func createFile(_ name: String, in parent: FileID = .root, contents: String = "") async throws -> CreatedFile {
        let created = try await storage.create(
            name, in: parent, id: .random(), permissions: 0o644, flags: [.readWrite, .create], context: context)
        if !contents.isEmpty {
            _ = try await storage.write(ByteBuffer(string: contents), to: created.file, at: 0, context: context)
        }
        return created
    }

    func readAll(_ file: OpenFile, count: Int = 4096) async throws -> String {
        let buffer = try await storage.read(from: file, at: 0, count: count, context: context)
        return String(buffer: buffer)
    }
}

/// Checks that `body` throws a ``FileSystemError`` with `code`, recording an issue that shows what happened if not.
func expectError<Result>(
    _ code: FileSystemError.Code, sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () async throws -> Result
) async {
    do {
        let result = try await body()
        Issue.record("expected \(code) but got \(result)", sourceLocation: sourceLocation)
    } catch let error as FileSystemError {
        #expect(error.code == code, "got \(error)", sourceLocation: sourceLocation)
        #expect(!error.message.isEmpty, sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected FileSystemError \(code) but got \(error)", sourceLocation: sourceLocation)
    }
}
