@testable import Mortar
import MortarCore
import MortarTesting

/// A `Volume` over an in-memory file system, with the operations that reach the file system recorded, for tests
/// of the library's own layers (read-ahead, small files). Locks are granted: the in-memory file system does not
/// model them, and only their effect on the library is tested with it.
enum MemoryVolume {
    static func make(over fileSystem: MemoryFileSystem) -> (Volume, LayerHarness) {
        let harness = LayerHarness(next: GrantingLocks(next: fileSystem))
        return (Volume(stack: harness, name: "memory"), harness)
    }

    private struct GrantingLocks: Layer {
        let next: any FileOperations
        func lock(_ file: OpenFile, _ request: LockRequest, wait: Bool, context: OperationContext) async throws {}
    }

    /// `count` bytes of a pattern that differs at every offset of a 251-byte cycle, shifted by `seed`.
    static func pattern(_ count: Int, seed: UInt8 = 0) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 % 251) &+ seed }
    }

    /// Creates or replaces `path` with `bytes`.
    static func writeFile(_ path: String, _ bytes: [UInt8], in volume: Volume) async throws {
        let file = try await volume.open(path, flags: [.readWrite, .create, .truncate])
        try await file.write(bytes, at: 0)
        try await file.close()
    }
}
