import MortarManagementAPI

/// The human-readable forms of `volume info` and `volume status`.
enum VolumeFormatting {
    static func info(_ volume: VolumeInfo) -> String {
        var lines = [
            "Volume Name: \(volume.name)",
            "Volume ID: \(volume.id)",
            "Status: \(volume.state.titleCased)",
            "Number of Bricks: \(volume.bricks.count)",
            "Bricks:",
        ]
        for brick in volume.bricks {
            lines.append("Brick\(brick.index + 1): \(brick.host):\(brick.path) (port \(brick.port))")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func status(_ volume: VolumeStatus) -> String {
        let header = ["Host", "Path", "Port", "Pid", "Online"]
        let rows = volume.bricks.map { brick in
            [brick.host, brick.path, "\(brick.port)", brick.pid.map { "\($0)" } ?? "N/A", brick.online ? "Y" : "N"]
        }
        return "Status of volume: \(volume.name) (\(volume.state))\n" + table([header] + rows)
    }

    /// Left-aligned columns two spaces apart.
    static func table(_ rows: [[String]]) -> String {
        let columnCount = rows.map(\.count).max() ?? 0
        let widths = (0..<columnCount).map { column in rows.map { $0.count > column ? $0[column].count : 0 }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[column] + 2 - cell.count)
            }.joined()
        }.joined(separator: "\n") + "\n"
    }
}

extension String {
    var titleCased: String { prefix(1).uppercased() + dropFirst() }
}
