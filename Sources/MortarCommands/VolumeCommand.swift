import ArgumentParser
import MortarManagementAPI

/// `mortar volume create|start|stop|delete|info|status|list`, in GlusterFS's style.
struct VolumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "volume", abstract: "Create, start, stop, delete and inspect volumes.",
        subcommands: [Create.self, Start.self, Stop.self, Delete.self, Info.self, Status.self, List.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a volume over bricks HOST:/PATH.")
        @OptionGroup var options: ManagerOptions
        @Argument(help: "The volume's name: letters, digits, '-' and '_'.") var name: String
        @Argument(help: "The bricks, as HOST:/PATH, in order.") var bricks: [String]
        @Flag(help: "Create missing brick directories.") var force = false

        func run() async throws {
            try await reportingFailure {
                let volume = try await options.client().createVolume(name: name, bricks: bricks, force: force)
                print("volume create: \(volume.name): success: please start the volume to access data")
            }
        }
    }

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start a volume's bricks.")
        @OptionGroup var options: ManagerOptions
        @Argument var name: String

        func run() async throws {
            try await reportingFailure {
                _ = try await options.client().startVolume(name: name)
                print("volume start: \(name): success")
            }
        }
    }

    struct Stop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop a volume's bricks.")
        @OptionGroup var options: ManagerOptions
        @Argument var name: String

        func run() async throws {
            try await reportingFailure {
                _ = try await options.client().stopVolume(name: name)
                print("volume stop: \(name): success")
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a stopped volume. Brick directories and their files are left in place.")
        @OptionGroup var options: ManagerOptions
        @Argument var name: String

        func run() async throws {
            try await reportingFailure {
                try await options.client().deleteVolume(name: name)
                print("volume delete: \(name): success")
            }
        }
    }

    struct Info: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a volume's configuration, or every volume's.")
        @OptionGroup var options: ManagerOptions
        @Argument var name: String?
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            try await reportingFailure {
                let client = try options.client()
                let volumes = if let name { [try await client.volumeInfo(name: name)] } else { try await client.volumes() }
                if json { return try name == nil ? printJSON(volumes) : printJSON(volumes[0]) }
                if volumes.isEmpty { print("No volumes present") }
                print(volumes.map(VolumeFormatting.info).joined(separator: "\n"), terminator: "")
            }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a volume's bricks and their processes.")
        @OptionGroup var options: ManagerOptions
        @Argument var name: String?
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            try await reportingFailure {
                let client = try options.client()
                let names = if let name { [name] } else { try await client.volumes().map(\.name) }
                var statuses: [VolumeStatus] = []
                for volume in names { statuses.append(try await client.volumeStatus(name: volume)) }
                if json { return try name == nil ? printJSON(statuses) : printJSON(statuses[0]) }
                if statuses.isEmpty { print("No volumes present") }
                print(statuses.map(VolumeFormatting.status).joined(separator: "\n"), terminator: "")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the volumes' names.")
        @OptionGroup var options: ManagerOptions

        func run() async throws {
            try await reportingFailure {
                let volumes = try await options.client().volumes()
                if volumes.isEmpty { print("No volumes present in cluster") }
                for volume in volumes { print(volume.name) }
            }
        }
    }
}
