import Mortar
import MortarCore

/// A file on a volume, as the file tools take it: `mortar://HOST[:PORT]/VOLUME/PATH`.
struct MortarURL: CustomStringConvertible {
    var server: ServerAddress
    var volume: String
    var path: String

    static let scheme = "mortar://"

    static func isMortarURL(_ text: String) -> Bool { text.hasPrefix(scheme) }

    init(parsing text: String) throws {
        guard text.hasPrefix(Self.scheme) else {
            throw FileSystemError.invalidArgument("'\(text)' is not a mortar:// URL")
        }
        let rest = text.dropFirst(Self.scheme.count)
        guard let slash = rest.firstIndex(of: "/") else {
            throw FileSystemError.invalidArgument("'\(text)' names no volume; expected mortar://HOST[:PORT]/VOLUME/PATH")
        }
        server = try ServerAddress(parsing: String(rest[..<slash]))
        let volumeAndPath = rest[rest.index(after: slash)...]
        let volumeEnd = volumeAndPath.firstIndex(of: "/") ?? volumeAndPath.endIndex
        volume = String(volumeAndPath[..<volumeEnd])
        guard !volume.isEmpty else { throw FileSystemError.invalidArgument("'\(text)' names no volume") }
        let tail = volumeAndPath[volumeEnd...]
        path = tail.isEmpty ? "/" : String(tail)
    }

    var description: String { "\(Self.scheme)\(server)/\(volume)\(path)" }

    /// Connects, runs `body`, and disconnects whether or not it succeeded.
    func withVolume<T>(_ body: (Volume) async throws -> T) async throws -> T {
        let volume = try await connect()
        do {
            let result = try await body(volume)
            await volume.close()
            return result
        } catch {
            await volume.close()
            throw error
        }
    }

    func connect() async throws -> Volume {
        try await Volume.connect(volume: volume, servers: [server], logger: CommandLogging.quietLogger)
    }
}
