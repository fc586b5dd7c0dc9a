import ArgumentParser
import MortarManagementAPI

extension VolumeCommand {
    /// `mortar volume set VOL OPTION VALUE`, as GlusterFS's: e.g. `auth.allow 10.0.0.*`, `server.root-squash on`.
    struct SetOption: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set",
            abstract: "Set a volume option (auth.allow, auth.reject, auth.ssl-allow, server.root-squash, server.all-squash, "
                + "server.anonuid, server.anongid).",
            discussion: "Bricks apply a change within about a second; address lists apply to new connections.")
        @OptionGroup var options: ManagerOptions
        @Argument(help: "The volume.") var volume: String
        @Argument(help: "The option's name.") var option: String
        @Argument(help: "Its new value.") var value: String

        func run() async throws {
            try await reportingFailure {
                _ = try await options.client().setVolumeOption(volume: volume, name: option, value: value)
                print("volume set: \(volume): success")
            }
        }
    }

    /// `mortar volume get VOL all|OPTION`: the values in force, set or default.
    struct GetOption: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "get", abstract: "Show a volume's options (all, or one).")
        @OptionGroup var options: ManagerOptions
        @Argument(help: "The volume.") var volume: String
        @Argument(help: "`all`, or one option's name.") var option: String = "all"
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            try await reportingFailure {
                let info = try await options.client().volumeOptions(name: volume)
                if json { return try printJSON(info) }
                print(VolumeFormatting.options(info, only: option == "all" ? nil : option), terminator: "")
            }
        }
    }

    /// `mortar volume reset VOL [OPTION]`: back to the default, one option or all.
    struct ResetOption: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "reset", abstract: "Return a volume option (or all) to its default.")
        @OptionGroup var options: ManagerOptions
        @Argument(help: "The volume.") var volume: String
        @Argument(help: "The option (default: every option).") var option: String?

        func run() async throws {
            try await reportingFailure {
                _ = try await options.client().resetVolumeOption(volume: volume, name: option)
                print("volume reset: \(volume): success")
            }
        }
    }
}

extension VolumeFormatting {
    /// `Option  Value` lines, sorted by name; one option only when `only` names it.
    static func options(_ info: VolumeOptionsInfo, only: String?) -> String {
        let names = info.values.keys.sorted().filter { only == nil || $0 == only }
        guard !names.isEmpty else { return "no option \(only ?? "") (see `mortar volume get VOLUME all`)\n" }
        let width = max(6, names.map(\.count).max() ?? 0)
        var text = "Option".padding(toLength: width) + "  Value\n"
        for name in names {
            let value = info.values[name] ?? ""
            text += name.padding(toLength: width) + "  " + (value.isEmpty ? "(none)" : value)
                + (info.set.contains(name) ? "" : " (default)") + "\n"
        }
        return text
    }
}

extension String {
    fileprivate func padding(toLength length: Int) -> String {
        count >= length ? self : self + String(repeating: " ", count: length - count)
    }
}
