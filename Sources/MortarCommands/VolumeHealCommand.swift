import ArgumentParser
import MortarCore
import MortarManagementAPI
import MortarMembership

extension VolumeCommand {
    /// `mortar volume heal NAME [info]`: what each brick has recorded for members that are not in sync, or (without
    /// `info`) start healing now every out-of-sync member that answers. Heal also starts by itself when a member
    /// comes back; this shows it and hurries it.
    struct Heal: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show what replicated bricks have pending for heal (info), or start healing now.",
            discussion: "Healing runs by itself when a member returns; `heal NAME` starts it for members that answer "
                + "but are out of sync, `heal NAME info` shows each brick's pending files and bytes.")
        @OptionGroup var options: ManagerOptions
        @Argument(help: "The volume.") var name: String
        @Argument(help: "`info` to show what is pending without starting anything.") var action: String?
        @Flag(help: "Print JSON.") var json = false

        func validate() throws {
            if let action, action != "info" { throw ValidationError("unknown heal action '\(action)'; use 'info'") }
        }

        func run() async throws {
            try await reportingFailure {
                let client = try options.client()
                let info = action == "info" ? try await client.healInfo(volume: name) : try await client.startHeal(volume: name)
                if json { return try printJSON(info) }
                print(VolumeFormatting.healInfo(info), terminator: "")
            }
        }
    }
}

extension VolumeFormatting {
    /// One block per brick: its state, and per member it records for, the files, directories and bytes pending
    /// (for the brick itself: the changes it applied that are not settled yet).
    static func healInfo(_ bricks: [BrickHealInfo]) -> String {
        var text = ""
        for brick in bricks {
            text += "Brick \(brick.brick) (replica set \(brick.setIndex), member \(brick.member)): \(brick.state.rawValue)"
            text += brick.reachable ? "" : brick.awaitingFirstReport ? ", no report yet (starting)" : ", not answering"
            text += "\n"
            let pending = brick.pending.filter { $0.files > 0 || $0.directories > 0 }
            if pending.isEmpty {
                text += "  nothing pending\n"
            }
            for item in pending {
                // What a brick records for itself are changes it applied whose outcome on the other members it
                // has not confirmed yet; they settle (or are reconciled) within a heal round.
                text += item.member == brick.member
                    ? "  applied here, not yet settled: \(item.files) files, \(item.directories) directories\n"
                    : "  for member \(item.member): \(item.files) files (\(item.bytes) changed bytes recorded), "
                        + "\(item.directories) directories\n"
            }
            if brick.bytesHealed > 0 { text += "  healed so far: \(brick.bytesHealed) bytes\n" }
        }
        return text
    }
}
