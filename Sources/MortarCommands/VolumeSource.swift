import Foundation
import Mortar
import MortarCore

/// The volume a mount shows: `mortar://HOST[:PORT]/VOLUME`, or GlusterFS's `HOST[:PORT]:/VOLUME` (what fstab lines
/// and `mount -t` use).
struct VolumeSource: Equatable, CustomStringConvertible {
    var server: ServerAddress
    var volume: String

    init(parsing text: String) throws {
        if MortarURL.isMortarURL(text) {
            let url = try MortarURL(parsing: text)
            guard url.path.split(separator: "/").isEmpty else {
                throw FileSystemError.invalidArgument(
                    "'\(text)' names a path inside the volume; only whole volumes can be mounted")
            }
            server = url.server
            volume = url.volume
            return
        }
        // HOST:/VOLUME (also [IPv6]:/VOLUME and HOST:PORT:/VOLUME); the volume follows the last ":/" or ":".
        let separator = text.range(of: ":/", options: .backwards) ?? text.range(of: ":", options: .backwards)
        guard let separator, separator.lowerBound > text.startIndex else {
            throw FileSystemError.invalidArgument(
                "'\(text)' is not a volume; expected HOST:/VOLUME or mortar://HOST[:PORT]/VOLUME")
        }
        server = try ServerAddress(parsing: String(text[..<separator.lowerBound]))
        volume = String(text[separator.upperBound...])
        guard !volume.isEmpty, !volume.contains("/") else {
            throw FileSystemError.invalidArgument("'\(text)' names no volume (or a path inside one)")
        }
    }

    /// The name the mount table shows as the mount's source.
    var description: String { "\(server.host):\(server.port == ServerAddress.defaultPort ? "" : "\(server.port):")/\(volume)" }
}
