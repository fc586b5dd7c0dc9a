import MortarCore
import NIOCore

/// One named check of file-system semantics that any correct ``FileOperations`` passes.
///
/// A check makes its own uniquely named directory under the root, so many checks can share one subject (a
/// MemoryFileSystem, a brick's storage in a temporary directory, or a whole client stack).
public struct ConformanceCheck: Sendable, CustomStringConvertible {
    public let name: String
    public let run: @Sendable (any FileOperations) async throws -> Void

    public init(_ name: String, run: @escaping @Sendable (any FileOperations) async throws -> Void) {
        self.name = name
        self.run = run
    }

    public var description: String { name }
}

/// A check that found the subject behaving wrongly. Deliberately not a ``FileSystemError``, so that a test never
/// mistakes a verdict for an operating error of the subject.
public struct ConformanceFailure: Error, CustomStringConvertible, Sendable {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// A scratch directory for one check, with helpers that keep checks short.
struct Scratch: Sendable {
    let subject: any FileOperations
    let directory: FileID
    let context = OperationContext()

    /// Makes a fresh directory `check-<label>-<random>` under the root.
    static func make(_ subject: any FileOperations, _ label: String) async throws -> Scratch {
        let id = FileID.random()
        let name = "check-\(label)-\(String(id.low, radix: 16))"
        _ = try await subject.makeDirectory(name, in: .root, id: id, permissions: 0o755, context: OperationContext())
        return Scratch(subject: subject, directory: id)
    }

    @discardableResult
    func makeFile(_ name: String, _ bytes: [UInt8] = [], in parent: FileID? = nil, permissions: UInt32 = 0o644)
        async throws -> FileID
    {
        let created = try await subject.create(
            name, in: parent ?? directory, id: .random(), permissions: permissions,
            flags: [.readWrite, .create, .exclusive], context: context)
        if !bytes.isEmpty {
            let written = try await subject.write(
                ByteBuffer(bytes: bytes), to: created.file, at: 0, context: context)
            try expectEqual(written, bytes.count, "bytes written to '\(name)'")
        }
        try await subject.release(created.file, context: context)
        return created.file.id
    }

    @discardableResult
    func makeDirectory(_ name: String, in parent: FileID? = nil) async throws -> FileID {
        let id = FileID.random()
        _ = try await subject.makeDirectory(name, in: parent ?? directory, id: id, permissions: 0o755, context: context)
        return id
    }

    func lookup(_ name: String, in parent: FileID? = nil) async throws -> FileAttributes {
        try await subject.lookup(name, in: parent ?? directory, context: context)
    }

    func attributes(_ id: FileID) async throws -> FileAttributes {
        try await subject.attributes(of: id, context: context)
    }

    /// Runs `body` with `id` open, releasing it afterwards whatever happens.
    func withOpen<Result: Sendable>(
        _ id: FileID, _ flags: OpenFlags, _ body: (OpenFile) async throws -> Result
    ) async throws -> Result {
        let file = try await subject.open(id, flags: flags, context: context)
        do {
            let result = try await body(file)
            try await subject.release(file, context: context)
            return result
        } catch {
            // Cleanup after a failed check, whose failure is the one reported.
            try? await subject.release(file, context: context)
            throw error
        }
    }

    func read(_ file: OpenFile, at offset: UInt64 = 0, count: Int) async throws -> [UInt8] {
        Array(try await subject.read(from: file, at: offset, count: count, context: context).readableBytesView)
    }

    /// The whole content of `id`, read through a fresh handle.
    func contents(_ id: FileID) async throws -> [UInt8] {
        let size = try await attributes(id).size
        return try await withOpen(id, .read) { try await read($0, count: Int(size) + 1) }
    }

    func write(_ bytes: [UInt8], to id: FileID, at offset: UInt64, flags: OpenFlags = .write) async throws {
        try await withOpen(id, flags) { file in
            let written = try await subject.write(ByteBuffer(bytes: bytes), to: file, at: offset, context: context)
            try expectEqual(written, bytes.count, "bytes written at \(offset)")
        }
    }

    /// Every name in `id` (default: the scratch directory), read with pages of at most `countMax` entries.
    func listing(_ id: FileID? = nil, countMax: Int = 64) async throws -> [DirectoryEntry] {
        var entries: [DirectoryEntry] = []
        var cookie: UInt64 = 0
        for _ in 0..<100_000 {
            let page = try await subject.readDirectory(
                id ?? directory, after: cookie, countMax: countMax, context: context)
            try expect(
                page.entries.count <= countMax, "page of \(page.entries.count) entries exceeds countMax \(countMax)")
            entries += page.entries.filter { $0.name != "." && $0.name != ".." }
            guard let next = page.nextCookie else { return entries }
            cookie = next
        }
        throw ConformanceFailure("directory listing of \(id ?? directory) never ended")
    }
}

func expect(_ condition: Bool, _ message: @autoclosure () -> String) throws {
    guard condition else { throw ConformanceFailure(message()) }
}

func expectEqual<Value: Equatable>(_ got: Value, _ expected: Value, _ what: String) throws {
    guard got == expected else { throw ConformanceFailure("\(what): expected \(expected), got \(got)") }
}

/// Runs `body` and fails unless it throws a ``FileSystemError`` with `code`.
func expectError<Value>(
    _ code: FileSystemError.Code, _ what: String, _ body: () async throws -> Value
) async throws {
    let outcome: Result<Value, any Error>
    do { outcome = .success(try await body()) } catch { outcome = .failure(error) }
    switch outcome {
    case .success(let value):
        throw ConformanceFailure("\(what): expected error \(code), got success \(value)")
    case .failure(let error as FileSystemError) where error.code == code:
        return
    case .failure(let error):
        throw ConformanceFailure("\(what): expected error \(code), got \(error)")
    }
}
