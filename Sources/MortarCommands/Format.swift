import Glibc
import MortarCore

/// Text forms shared by the file tools.
enum Format {
    static func permissions(_ attributes: FileAttributes) -> String {
        let typeLetter: Character =
            switch attributes.type {
            case .directory: "d"
            case .symbolicLink: "l"
            case .fifo: "p"
            case .socket: "s"
            case .characterDevice: "c"
            case .blockDevice: "b"
            case .regular: "-"
            }
        let bits = attributes.permissions
        var text = String(typeLetter)
        for shift in [6, 3, 0] as [UInt32] {
            text += bits >> shift & 4 != 0 ? "r" : "-"
            text += bits >> shift & 2 != 0 ? "w" : "-"
            text += bits >> shift & 1 != 0 ? "x" : "-"
        }
        return text
    }

    static func time(_ timestamp: Timestamp) -> String {
        var seconds = time_t(timestamp.seconds)
        var broken = tm()
        gmtime_r(&seconds, &broken)
        var buffer = [CChar](repeating: 0, count: 64)
        let count = strftime(&buffer, buffer.count, "%Y-%m-%d %H:%M:%S", &broken)
        let text = String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let nanos = String(timestamp.nanoseconds)
        return text + "." + String(repeating: "0", count: 9 - nanos.count) + nanos + " UTC"
    }

    static func longLine(_ entry: DirectoryEntry) -> String {
        let a = entry.attributes
        let size = String(a.size)
        let padded = String(repeating: " ", count: max(0, 12 - size.count)) + size
        return "\(permissions(a)) \(a.linkCount) \(a.userID) \(a.groupID) \(padded) \(time(a.modificationTime).prefix(19)) \(entry.name)"
    }

    /// A byte count in binary units, one decimal: `512 B`, `1.5 KiB`, `9.8 GiB`.
    static func bytes(_ count: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var value = Double(count)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(count) B" : "\(oneDecimal(value)) \(units[unit])"
    }

    /// `12.3`: one decimal, rounded.
    static func oneDecimal(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }
}

