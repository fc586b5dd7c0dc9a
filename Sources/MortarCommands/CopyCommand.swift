import ArgumentParser
import Glibc
import Mortar
import MortarCore
import NIOCore

/// `mortar cp [-r] SRC DST`: copies between the local file system and volumes, either way or volume to volume.
struct CopyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cp", abstract: "Copy files to, from or between volumes (mortar://HOST[:PORT]/VOLUME/PATH).")

    @Flag(name: .short, help: "Copy directories recursively.") var recursive = false
    @Argument(help: "Source: a local path or a mortar:// URL.") var source: String
    @Argument(help: "Destination: a local path or a mortar:// URL.") var destination: String

    static let chunkByteCount = 4 << 20

    func run() async throws {
        try await reportingFailure { try await execute() }
    }

    private func execute() async throws {
        try await withSide(source) { sourceTree, sourcePath in
            try await withSide(destination) { destinationTree, destinationPath in
                let progress = Progress()
                try await copy(sourcePath, in: sourceTree, to: destinationPath, in: destinationTree, progress: progress)
                progress.finish()
            }
        }
    }

    private func withSide(_ text: String, _ body: (any CopyTree, String) async throws -> Void) async throws {
        guard MortarURL.isMortarURL(text) else { return try await body(LocalTree(), text) }
        let url = try MortarURL(parsing: text)
        try await url.withVolume { volume in try await body(VolumeTree(volume: volume), url.path) }
    }

    private func copy(
        _ sourcePath: String, in sourceTree: any CopyTree, to destinationPath: String, in destinationTree: any CopyTree,
        progress: Progress
    ) async throws {
        guard let sourceKind = try await sourceTree.kind(sourcePath) else {
            throw FileSystemError.notFound("source '\(sourcePath)' does not exist")
        }
        var target = destinationPath
        if let existing = try await destinationTree.kind(destinationPath), existing.isDirectory {
            target = Self.join(destinationPath, Self.baseName(sourcePath))
        }
        guard sourceKind.isDirectory else {
            return try await copyFile(sourcePath, sourceTree, target, destinationTree, sourceKind.permissions, progress)
        }
        guard recursive else { throw FileSystemError(.isDirectory, "'\(sourcePath)' is a directory; use cp -r") }
        try await copyTree(sourcePath, sourceTree, target, destinationTree, sourceKind.permissions, progress)
    }

    private func copyTree(
        _ source: String, _ sourceTree: any CopyTree, _ target: String, _ targetTree: any CopyTree,
        _ permissions: UInt32, _ progress: Progress
    ) async throws {
        try await targetTree.makeDirectory(target, permissions: permissions)
        for name in try await sourceTree.entries(source) {
            let child = Self.join(source, name)
            guard let kind = try await sourceTree.kind(child) else { continue }
            if kind.isDirectory {
                try await copyTree(child, sourceTree, Self.join(target, name), targetTree, kind.permissions, progress)
            } else {
                try await copyFile(child, sourceTree, Self.join(target, name), targetTree, kind.permissions, progress)
            }
        }
    }

    private func copyFile(
        _ source: String, _ sourceTree: any CopyTree, _ target: String, _ targetTree: any CopyTree,
        _ permissions: UInt32, _ progress: Progress
    ) async throws {
        let reader = try await sourceTree.openForReading(source)
        let writer = try await targetTree.openForWriting(target, permissions: permissions)
        var offset: UInt64 = 0
        while true {
            let data = try await reader.read(count: Self.chunkByteCount, at: offset)
            if data.readableBytes == 0 { break }
            try await writer.write(data, at: offset)
            offset += UInt64(data.readableBytes)
            progress.add(bytes: data.readableBytes)
        }
        try await reader.close()
        try await writer.close()
        progress.addFile()
    }

    static func join(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    static func baseName(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }
}

/// Progress of a long copy on standard error, once a second, only when standard error is a terminal.
final class Progress: @unchecked Sendable {
    // Only touched by the copy loop, which runs sequentially.
    private var bytes = 0
    private var files = 0
    private let start = ContinuousClock.now
    private var lastReport = ContinuousClock.now
    private let enabled = isatty(2) != 0

    func add(bytes count: Int) {
        bytes += count
        guard enabled, ContinuousClock.now - lastReport >= .seconds(1) else { return }
        lastReport = .now
        report(final: false)
    }

    func addFile() { files += 1 }

    func finish() { if enabled { report(final: true) } }

    private func report(final: Bool) {
        let seconds = Double((ContinuousClock.now - start).components.seconds) + 0.001
        let megabytes = Double(bytes) / 1_000_000
        let line = "\r\(files) files, \(Int(megabytes)) MB, \(Int(megabytes / seconds)) MB/s" + (final ? "\n" : "")
        _ = line.withCString { write(2, $0, strlen($0)) }
    }
}
