import ArgumentParser
import Foundation
import MortarCore
import MortarManagementAPI
import MortarSecurity

/// The `mortar` command: the daemon, cluster and volume management, and a one-command local demo cluster.
public struct MortarCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "mortar",
        abstract: "Mortar: a scale-out distributed file system.",
        subcommands: [
            DaemonCommand.self,
            PeerCommand.self,
            VolumeCommand.self,
            UpCommand.self,
            DownCommand.self,
            CopyCommand.self,
            CatCommand.self,
            ListCommand.self,
            StatCommand.self,
            RemoveCommand.self,
            MakeDirectoryCommand.self,
            BrickCommand.self,
            BenchCommand.self,
            GFAPIPathCommand.self,
            MountCommand.self,
            UnmountCommand.self,
            InstallMountHelperCommand.self,
            CertCommand.self,
            HealthCommand.self,
        ]
    )

    public init() {}
}

/// `--manager HOST[:PORT]`, else `MORTAR_MANAGER`, else the local daemon.
struct ManagerOptions: ParsableArguments {
    @Option(name: .long, help: "The managing daemon as HOST[:PORT] (default: $MORTAR_MANAGER or 127.0.0.1:24007).")
    var manager: String?

    @Option(name: .long, help: "Directory with this client's glusterfs.pem, glusterfs.key and glusterfs.ca (default: $MORTAR_TLS_DIR, ~/.config/mortar/tls, then /etc/ssl and /usr/lib/ssl; 'off' for a daemon run with --insecure).")
    var tlsDir: String?

    func client() throws -> ManagementClient {
        let text = manager ?? ProcessInfo.processInfo.environment["MORTAR_MANAGER"] ?? "127.0.0.1:24007"
        let address = try ManagementClient.parseAddress(text)
        return ManagementClient(
            host: address.host, port: address.port, security: try TransportSecurity.client(explicitDirectory: tlsDir))
    }
}

/// Runs a command's body and turns any failure into one line on standard error (`mortar: <reason>`) and a
/// non-zero exit status, instead of ArgumentParser's generic error report.
func reportingFailure(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let exit as ExitCode {
        throw exit
    } catch {
        let failure = FileSystemError.wrapping(error)
        let reason = failure.description
        FileHandle.standardError.write(Data("mortar: \(reason)\n".utf8))
        throw ExitCode.failure
    }
}

/// Pretty, stable JSON for `--json` output.
func printJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

extension MortarCommand {
    /// Parses the process's arguments and runs the chosen subcommand, for the `mortar` executable's `main.swift`
    /// (which then needs no import of ArgumentParser).
    /// Called as `mount.mortar` (the symbolic link `install-mount-helper` makes), it is mount(8)'s helper.
    public static func runFromCommandLine() async {
        let arguments = CommandLine.arguments
        guard arguments.first?.split(separator: "/").last.map(String.init) == MountHelper.name else {
            await parseAndRun(Array(arguments.dropFirst()))
            return
        }
        let translated: [String]
        do {
            switch try MountHelper.plan(Array(arguments.dropFirst())) {
            case .run(let mortarArguments): translated = mortarArguments
            case .nothing: return
            }
        } catch {
            FileHandle.standardError.write(Data("\(MountHelper.name): \(FileSystemError.wrapping(error).message)\n".utf8))
            Foundation.exit(1)
        }
        await parseAndRun(translated)
    }

    /// Parses and runs by hand instead of ArgumentParser's `main()` (whose synchronous form with explicit
    /// arguments cannot run an async subcommand), so that a bad argument gets the same one-line report as every
    /// other failure.
    static func parseAndRun(_ arguments: [String]) async {
        do {
            var command = try MortarCommand.parseAsRoot(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            // Help and version requests (exit 0) print their text as usual; a command's own failure
            // (`reportingFailure`) has already printed its line and only carries the status.
            guard code != .success, !(error is ExitCode), let line = argumentErrorLine(for: error) else {
                exit(withError: error)
            }
            FileHandle.standardError.write(Data((line + "\n").utf8))
            Foundation.exit(code.rawValue)
        }
    }

    /// An argument error (or another error a command let through) as one line: `mortar: <what was wrong>`, and
    /// for argument errors (exit status 64, EX_USAGE) where to read the usage — instead of ArgumentParser's report
    /// of the error, a help line and the whole usage.
    static func argumentErrorLine(for error: any Error) -> String? {
        let message = message(for: error).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.joined(separator: "; ")
        guard !message.isEmpty else { return nil }
        var line = "mortar: " + message.prefix(1).lowercased() + message.dropFirst()
        // ArgumentParser knows which subcommand was being parsed; its full report ends with
        // "See 'mortar volume create --help' for more information." — the one part worth keeping.
        let full = fullMessage(for: error)
        if exitCode(for: error) == .validationFailure, let start = full.range(of: "See '"),
            let end = full.range(of: "' for more information", range: start.upperBound..<full.endIndex)
        {
            line += " (see '\(full[start.upperBound..<end.lowerBound])')"
        }
        return line
    }
}
