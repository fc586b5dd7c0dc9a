import Mortar
import MortarCore
import NIOCore
import NIOPosix

/// One side of a copy: the local file system or a volume. `mortar cp` copies between any two.
protocol CopyTree: Sendable {
    func kind(_ path: String) async throws -> (isDirectory: Bool, permissions: UInt32)?
    func entries(_ path: String) async throws -> [String]
    func makeDirectory(_ path: String, permissions: UInt32) async throws
    func openForReading(_ path: String) async throws -> any CopyReader
    func openForWriting(_ path: String, permissions: UInt32) async throws -> any CopyWriter
}

protocol CopyReader: Sendable {
    func read(count: Int, at offset: UInt64) async throws -> ByteBuffer
    func close() async throws
}

protocol CopyWriter: Sendable {
    func write(_ data: ByteBuffer, at offset: UInt64) async throws
    func close() async throws
}

struct LocalTree: CopyTree {
    func kind(_ path: String) async throws -> (isDirectory: Bool, permissions: UInt32)? { try LocalFile.kind(path) }
    func entries(_ path: String) async throws -> [String] { try LocalFile.entries(path) }
    func makeDirectory(_ path: String, permissions: UInt32) async throws {
        try LocalFile.makeDirectory(path, permissions: permissions)
    }
    func openForReading(_ path: String) async throws -> any CopyReader {
        LocalReader(file: try LocalFile.open(path, forWriting: false))
    }
    func openForWriting(_ path: String, permissions: UInt32) async throws -> any CopyWriter {
        LocalWriter(file: try LocalFile.open(path, forWriting: true, permissions: permissions))
    }
}

/// Local reads are sequential here: the copy loop asks for consecutive ranges. Blocking calls run on NIO's
/// thread pool, never on a task's thread.
struct LocalReader: CopyReader {
    let file: LocalFile
    func read(count: Int, at offset: UInt64) async throws -> ByteBuffer {
        try await NIOThreadPool.singleton.runIfActive { [file] in
            var result = ByteBuffer()
            while result.readableBytes < count {
                var piece = try file.read(count: count - result.readableBytes)
                if piece.readableBytes == 0 { break }
                result.writeBuffer(&piece)
            }
            return result
        }
    }
    func close() async throws { try file.close() }
}

struct LocalWriter: CopyWriter {
    let file: LocalFile
    func write(_ data: ByteBuffer, at offset: UInt64) async throws {
        try await NIOThreadPool.singleton.runIfActive { [file] in try file.writeAll(data) }
    }
    func close() async throws { try file.close() }
}

struct VolumeTree: CopyTree {
    let volume: Volume

    func kind(_ path: String) async throws -> (isDirectory: Bool, permissions: UInt32)? {
        do {
            let attributes = try await volume.attributes(path)
            return (attributes.type == .directory, attributes.permissions)
        } catch let error as FileSystemError where error.code == .notFound {
            return nil
        }
    }
    func entries(_ path: String) async throws -> [String] {
        try await volume.listDirectory(path).map(\.name).sorted()
    }
    func makeDirectory(_ path: String, permissions: UInt32) async throws {
        do {
            try await volume.makeDirectory(path, permissions: permissions)
        } catch let error as FileSystemError where error.code == .exists {}
    }
    func openForReading(_ path: String) async throws -> any CopyReader {
        VolumeFileAccess(file: try await volume.open(path, flags: .read))
    }
    func openForWriting(_ path: String, permissions: UInt32) async throws -> any CopyWriter {
        VolumeFileAccess(file: try await volume.open(path, flags: [.write, .create, .truncate], permissions: permissions))
    }
}

struct VolumeFileAccess: CopyReader, CopyWriter {
    let file: File
    func read(count: Int, at offset: UInt64) async throws -> ByteBuffer { try await file.read(count: count, at: offset) }
    func write(_ data: ByteBuffer, at offset: UInt64) async throws { try await file.write(data, at: offset) }
    func close() async throws { try await file.close() }
}
