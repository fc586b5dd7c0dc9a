import ArgumentParser
import Mortar
import MortarCore
import NIOCore
import NIOPosix

/// A file tool: one `mortar://` URL, one volume connection for the length of the command, and a one-line reason on
/// failure.
protocol FileToolCommand: AsyncParsableCommand {
    var url: String { get }
    func perform(on volume: Volume, at path: String) async throws
}

extension FileToolCommand {
    func run() async throws {
        try await reportingFailure {
            let target = try MortarURL(parsing: url)
            try await target.withVolume { volume in try await perform(on: volume, at: target.path) }
        }
    }
}

/// `mortar cat URL`: writes a file's contents to standard output.
struct CatCommand: FileToolCommand {
    static let configuration = CommandConfiguration(commandName: "cat", abstract: "Print a file on a volume.")
    @Argument(help: "mortar://HOST[:PORT]/VOLUME/PATH") var url: String

    func perform(on volume: Volume, at path: String) async throws {
        let file = try await volume.open(path, flags: .read)
        var offset: UInt64 = 0
        while true {
            let data = try await file.read(count: 4 << 20, at: offset)
            if data.readableBytes == 0 { break }
            try await NIOThreadPool.singleton.runIfActive { try LocalFile.standardOutput.writeAll(data) }
            offset += UInt64(data.readableBytes)
        }
        try await file.close()
    }
}

/// `mortar stat URL`: prints a file's attributes.
struct StatCommand: FileToolCommand {
    static let configuration = CommandConfiguration(commandName: "stat", abstract: "Show a file's attributes.")
    @Argument(help: "mortar://HOST[:PORT]/VOLUME/PATH") var url: String

    func perform(on volume: Volume, at path: String) async throws {
        let attributes = try await volume.linkAttributes(path)
        print("  File: \(path)")
        print("  Type: \(attributes.type)   Size: \(attributes.size)   Blocks: \(attributes.blocks)")
        print("FileID: \(attributes.id)   Links: \(attributes.linkCount)")
        print("Access: \(Format.permissions(attributes))  (\(String(attributes.permissions, radix: 8)))  "
              + "Uid: \(attributes.userID)  Gid: \(attributes.groupID)")
        print("Modify: \(Format.time(attributes.modificationTime))")
        print("Change: \(Format.time(attributes.changeTime))")
        print("Access: \(Format.time(attributes.accessTime))")
    }
}

/// `mortar ls [-l] URL`: lists a directory (or names a file).
struct ListCommand: FileToolCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List a directory on a volume.")
    @Flag(name: .short, help: "Long listing: type, permissions, links, owner, size, time.") var long = false
    @Argument(help: "mortar://HOST[:PORT]/VOLUME/PATH") var url: String

    func perform(on volume: Volume, at path: String) async throws {
        let attributes = try await volume.attributes(path)
        let entries: [DirectoryEntry]
        if attributes.type == .directory {
            entries = try await volume.listDirectory(path).sorted { $0.name < $1.name }
        } else {
            entries = [DirectoryEntry(name: path, attributes: attributes)]
        }
        for entry in entries {
            print(long ? Format.longLine(entry) : entry.name)
        }
    }
}

/// `mortar mkdir [-p] URL`.
struct MakeDirectoryCommand: FileToolCommand {
    static let configuration = CommandConfiguration(commandName: "mkdir", abstract: "Create a directory on a volume.")
    @Flag(name: .short, help: "Create missing parents; an existing directory is not an error.") var parents = false
    @Argument(help: "mortar://HOST[:PORT]/VOLUME/PATH") var url: String

    func perform(on volume: Volume, at path: String) async throws {
        if parents {
            try await volume.makeDirectories(path)
        } else {
            try await volume.makeDirectory(path)
        }
    }
}

/// `mortar rm [-r] URL`.
struct RemoveCommand: FileToolCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove a file or tree from a volume.")
    @Flag(name: .short, help: "Remove directories and their contents.") var recursive = false
    @Argument(help: "mortar://HOST[:PORT]/VOLUME/PATH") var url: String

    func perform(on volume: Volume, at path: String) async throws {
        let attributes = try await volume.linkAttributes(path)
        guard attributes.type == .directory else { return try await volume.unlink(path) }
        guard recursive else { throw FileSystemError(.isDirectory, "'\(path)' is a directory; use rm -r") }
        try await Self.removeTree(path, volume: volume)
    }

    static func removeTree(_ path: String, volume: Volume) async throws {
        for entry in try await volume.listDirectory(path) {
            let child = path.hasSuffix("/") ? path + entry.name : path + "/" + entry.name
            if entry.attributes.type == .directory {
                try await removeTree(child, volume: volume)
            } else {
                try await volume.unlink(child)
            }
        }
        try await volume.removeDirectory(path)
    }
}
