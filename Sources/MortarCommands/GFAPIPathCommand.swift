import ArgumentParser
import Foundation
import MortarCore
import MortarDaemon

/// `mortar gfapi-path`: where Mortar's libgfapi.so.0 is, for `LD_LIBRARY_PATH`.
struct GFAPIPathCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gfapi-path",
        abstract: "Print the directory holding Mortar's libgfapi.so.0 (for LD_LIBRARY_PATH).",
        discussion: """
            Programs built against GlusterFS's libgfapi (fio, qemu-img, tgtd, …) use Mortar when started with
            LD_LIBRARY_PATH=$(mortar gfapi-path). Do not copy the library over the system's copy: GlusterFS's own
            tools need the real one.
            """)

    static let libraryName = "libgfapi.so.0"

    func run() async throws {
        try await reportingFailure {
            print(try Self.libraryDirectory())
        }
    }

    /// Looks, in order: $MORTAR_GFAPI_DIR; `lib/mortar/gfapi` next to the installed binary's `bin`; the
    /// `.build-gfapi/lib` directory of the source tree the binary was built in.
    static func libraryDirectory() throws -> String {
        let executable = URL(fileURLWithPath: DaemonConfiguration.runningExecutablePath())
        var candidates: [URL] = []
        if let configured = ProcessInfo.processInfo.environment["MORTAR_GFAPI_DIR"] {
            candidates.append(URL(fileURLWithPath: configured))
        }
        let binary = executable.deletingLastPathComponent()
        candidates.append(binary.deletingLastPathComponent().appendingPathComponent("lib/mortar/gfapi"))
        var directory = binary
        while directory.path != "/" {
            candidates.append(directory.appendingPathComponent(".build-gfapi/lib"))
            directory = directory.deletingLastPathComponent()
        }
        for candidate in candidates
        where FileManager.default.fileExists(atPath: candidate.appendingPathComponent(libraryName).path) {
            return candidate.standardizedFileURL.path
        }
        throw FileSystemError.notFound(
            "no \(libraryName) found (looked in \(candidates.prefix(3).map(\.path).joined(separator: ", ")), …); "
                + "build it with `make gfapi`")
    }
}
