import ArgumentParser
import MortarManagementAPI
import MortarSecurity

/// `mortar volume create|start|stop|delete|info|status|list|heal|add-brick|rebalance|replace-brick|set|get|reset|profile|top`, in
/// GlusterFS's style.
struct VolumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "volume", abstract: "Create, start, stop, delete and inspect volumes.",
        subcommands: [Create.self, Start.self, Stop.self, Delete.self, Info.self, Status.self, List.self, Heal.self,
                      AddBrick.self, Rebalance.self, ReplaceBrick.self, SetOption.self, GetOption.self, ResetOption.self, Profile.self, Top.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a volume over bricks HOST:/PATH.",
            usage: "mortar volume create NAME [replica N] [min-in-sync K] HOST:/PATH… [--force]",
            discussion: """
                With replica N every N consecutive bricks form a replica set that keeps a copy of each of its \
                files; min-in-sync K (default: a majority of N) members must be in sync for the set to accept \
                changes. Two bricks of one set on one host are refused unless --force.
                """)
        @OptionGroup var options: ManagerOptions
        @Argument(help: "The volume's name: letters, digits, '-' and '_'.") var name: String
        @Argument(help: ArgumentHelp("[replica N] [min-in-sync K], then the bricks as HOST:/PATH, in order.",
                                     valueName: "bricks"))
        var words: [String]
        @Option(help: "Members of each replica set, as the keyword replica N.") var replica: Int?
        @Option(name: .customLong("min-in-sync"), help: "In-sync members a replica set needs to accept changes.")
        var minInSync: Int?
        @Flag(help: "Create missing brick directories; allow two bricks of one replica set on one host.")
        var force = false

        func run() async throws {
            try await reportingFailure {
                let arguments = try VolumeCreateArguments(
                    parsing: words, replicaOption: replica, minInSyncOption: minInSync)
                let volume = try await options.client().createVolume(
                    name: name, bricks: arguments.bricks, replicaCount: arguments.replicaCount,
                    minInSync: arguments.minInSync, force: force)
                print("volume create: \(volume.name): success: please start the volume to access data")
            }
        }
    }

    struct AddBrick: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add-brick",
            abstract: "Add bricks to a volume: any number to a plain volume, whole replica sets to a replicated one.",
            usage: "mortar volume add-brick NAME HOST:/PATH… [--force]",
            discussion: """
                New files go to the new bricks at once: the volume's layout gains a generation, and files already \
                stored stay where they are and are still found. A started volume's new bricks are started.
                """)
        @OptionGroup var options: ManagerOptions
        @Argument(help: "The volume's name.") var name: String
        @Argument(help: "The new bricks, as HOST:/PATH; consecutive runs of the replica count form the new sets.")
        var bricks: [String]
        @Flag(help: "Create missing brick directories; allow two bricks of one new replica set on one host.")
        var force = false

        func run() async throws {
            try await reportingFailure {
                let volume = try await options.client().addBricks(volume: name, bricks: bricks, force: force)
                print("volume add-brick: \(name): success: \(bricks.count) added, \(volume.bricks.count) bricks in all")
            }
        }
    }

    struct ReplaceBrick: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "replace-brick",
            abstract: "Put a new, empty brick in the place of one of a replicated volume's.",
            discussion: """
                The new brick takes the old one's place in its replica set and is out of sync until it has been \
                healed from the other members. A started volume's old brick is stopped and the new one started.
                """)
        @OptionGroup var options: ManagerOptions
        @Argument(help: "The volume's name.") var name: String
        @Argument(help: "The brick to replace, as HOST:/PATH.") var oldBrick: String
        @Argument(help: "The new brick, as HOST:/PATH.") var newBrick: String
        @Flag(help: "Create a missing brick directory; allow two bricks of one replica set on one host.")
        var force = false

        func run() async throws {
            try await reportingFailure {
                _ = try await options.client().replaceBrick(
                    volume: name, oldBrick: oldBrick, newBrick: newBrick, force: force)
                print("volume replace-brick: \(name): success: \(newBrick) replaced \(oldBrick) "
                      + "(out of sync until it is healed)")
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
        static let configuration = CommandConfiguration(
            abstract: "Show a volume's bricks and their processes, and each replica set's membership.")
        @OptionGroup var options: ManagerOptions
        @Argument var name: String?
        @Argument(help: "detail: each brick's space and inodes; clients: each brick's connections (asked of the bricks).")
        var detail: String?
        @Flag(help: "Print JSON.") var json = false

        func validate() throws {
            guard detail == nil || detail == "detail" || detail == "clients" else {
                throw ValidationError("after the volume name only 'detail' or 'clients' may follow, got '\(detail ?? "")'")
            }
            guard detail == nil || name != nil else { throw ValidationError("'\(detail ?? "")' needs a volume name") }
        }

        func run() async throws {
            try await reportingFailure {
                let client = try options.client()
                if detail == "clients", let name {
                    let clients = try await client.volumeClients(name: name)
                    return try json ? printJSON(clients) : print(ProfileFormatting.clients(clients), terminator: "")
                }
                let names = if let name { [name] } else { try await client.volumes().map(\.name) }
                var statuses: [VolumeStatus] = []
                for volume in names { statuses.append(try await client.volumeStatus(name: volume)) }
                if detail != nil, let status = statuses.first {
                    let details = await BrickDetail.gather(
                        status.bricks, security: try TransportSecurity.client(explicitDirectory: options.tlsDir))
                    return try json ? printJSON(details) : print(VolumeFormatting.detail(status, details), terminator: "")
                }
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
