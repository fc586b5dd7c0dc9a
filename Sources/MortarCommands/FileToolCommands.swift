import ArgumentParser
import Mortar
import MortarCore
import NIOCore

/// `mortar cat URL`: writes a file's contents to standard output.
struct CatCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cat", abstract: "Print a file on a volume.")
    @Argument(help: "mortar://HOST[:PORT]/VOLUME/PATH") var url: String

    func run() async throws {
        try await reportingFailure { try await execute() }
    }

    private func execute() async throws {
        let target = try MortarURL(parsing: url)
        try await target.withVolume { volume in
            let file = try await volume.open(target.path, flags: .read)
            var offset: UInt64 = 0
            while true {
                let data = try await file.read(count: 4 << 20, at: offset)
                if data.readableBytes == 0 { break }
                try LocalFile.standardOutput.writeAll(data)
                offset += UInt64(data.readableBytes)
            }
            try await file.close()
        }
    }
}

/// `mortar stat URL`: prints a file's attributes.
struct StatCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stat", abstract: "Show a file's attributes.")
    @Argument(help: "mortar://HOST[:PORT]/VOLUME/PATH") var url: String

    func run() async throws {
        try await reportingFailure { try await execute() }
    }

    private func execute() async throws {
        let target = try MortarURL(parsing: url)
        try await target.withVolume { volume in
            let attributes = try await volume.linkAttributes(target.path)
            print("  File: \(target.path)")
            print("  Type: \(attributes.type)   Size: \(attributes.size)   Blocks: \(attributes.blocks)")
            print("FileID: \(attributes.id)   Links: \(attributes.linkCount)")
            print("Access: \(Format.permissions(attributes))  (\(String(attributes.permissions, radix: 8)))  "
                  + "Uid: \(attributes.userID)  Gid: \(attributes.groupID)")
            print("Modify: \(Format.time(attributes.modificationTime))")
            print("Change: \(Format.time(attributes.changeTime))")
            print("Access: \(Format.time(attributes.accessTime))")
        }
    }
}

/// `mortar ls [-l] URL`: lists a directory (or names a file).
struct ListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List a directory on a volume.")
    @Flag(name: .short, help: "Long listing: type, permissions, links, owner, size, time.") var long = false
    @Argument(help: "mortar://HOST[:PORT]/VOLUME/PATH") var url: String

    func run() async throws {
        try await reportingFailure { try await execute() }
    }

    private func execute() async throws {
        let target = try MortarURL(parsing: url)
        try await target.withVolume { volume in
            let attributes = try await volume.attributes(target.path)
            let entries: [DirectoryEntry]
            if attributes.type == .directory {
                entries = try await volume.listDirectory(target.path).sorted { $0.name < $1.name }
            } else {
                entries = [DirectoryEntry(name: target.path, attributes: attributes)]
            }
            for entry in entries {
                print(long ? Format.longLine(entry) : entry.name)
            }
        }
    }
}

/// `mortar mkdir [-p] URL`.
struct MakeDirectoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "mkdir", abstract: "Create a directory on a volume.")
    @Flag(name: .short, help: "Create missing parents; an existing directory is not an error.") var parents = false
    @Argument(help: "mortar://HOST[:PORT]/VOLUME/PATH") var url: String

    func run() async throws {
        try await reportingFailure { try await execute() }
    }

    private func execute() async throws {
        let target = try MortarURL(parsing: url)
        try await target.withVolume { volume in
            if parents {
                try await volume.makeDirectories(target.path)
            } else {
                try await volume.makeDirectory(target.path)
            }
        }
    }
}

/// `mortar rm [-r] URL`.
struct RemoveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove a file or tree from a volume.")
    @Flag(name: .short, help: "Remove directories and their contents.") var recursive = false
    @Argument(help: "mortar://HOST[:PORT]/VOLUME/PATH") var url: String

    func run() async throws {
        try await reportingFailure { try await execute() }
    }

    private func execute() async throws {
        let target = try MortarURL(parsing: url)
        try await target.withVolume { volume in
            let attributes = try await volume.linkAttributes(target.path)
            guard attributes.type == .directory else { return try await volume.unlink(target.path) }
            guard recursive else {
                throw FileSystemError(.isDirectory, "'\(target.path)' is a directory; use rm -r")
            }
            try await Self.removeTree(target.path, volume: volume)
        }
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
