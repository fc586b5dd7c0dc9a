import MortarCore
import MortarManagementAPI
import MortarMembership

/// The human-readable forms of `volume info` and `volume status`.
enum VolumeFormatting {
    static func info(_ volume: VolumeInfo) -> String {
        let replicated = volume.replicaCount > 1
        let setCount = replicated ? volume.bricks.count / volume.replicaCount : volume.bricks.count
        var lines = [
            "Volume Name: \(volume.name)",
            "Type: \(replicated ? (setCount > 1 ? "Distributed-Replicate" : "Replicate") : "Distribute")",
            "Volume ID: \(volume.id)",
            "Status: \(volume.state.titleCased)",
            replicated
                ? "Number of Bricks: \(setCount) x \(volume.replicaCount) = \(volume.bricks.count)"
                : "Number of Bricks: \(volume.bricks.count)",
        ]
        if replicated, let minInSync = volume.minInSync {
            lines.append("Min In Sync: \(minInSync) of \(volume.replicaCount) members of each replica set")
        }
        if let counts = volume.layoutChildCounts, counts.count > 1 {
            // Files keep the place their generation gave them until they are moved: say how the volume grew.
            lines.append(
                "Layout: \(counts.count) generations, \(counts.map(String.init).joined(separator: " -> ")) "
                    + (replicated ? "replica sets" : "bricks"))
        }
        lines.append("Bricks:")
        for brick in volume.bricks {
            lines.append("Brick\(brick.index + 1): \(brick.host):\(brick.path) (port \(brick.port))")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func status(_ volume: VolumeStatus) -> String {
        let title = "Status of volume: \(volume.name) (\(volume.state))\n"
        guard !volume.replicaSets.isEmpty else {
            return title + table([brickHeader] + volume.bricks.map(brickRow))
        }
        // One block per replica set: its epoch and namespace primary, then its members with their states.
        let blocks = volume.replicaSets.map { view in
            let first = view.setIndex * view.members.count
            let members = volume.bricks.filter { (first..<first + view.members.count).contains($0.index) }
            let rows = members.map { brick in
                brickRow(brick) + [view.members[brick.index - first].rawValue]
            }
            return replicaSetSummary(view, members: members, volumeState: volume.state) + "\n" + table([brickHeader + ["State"]] + rows)
        }
        return title + blocks.joined(separator: "\n")
    }

    /// `volume status VOL detail`: each brick's space and inodes, as the brick's file system reports them.
    static func detail(_ volume: VolumeStatus, _ details: [BrickDetail]) -> String {
        func size(_ bytes: UInt64?) -> String { bytes.map { Format.bytes($0) } ?? "–" }
        func share(_ part: UInt64?, _ whole: UInt64?) -> String {
            guard let part, let whole, whole > 0 else { return "–" }
            return Format.oneDecimal(Double(part) * 100 / Double(whole)) + "%"
        }
        let rows = details.map { detail in
            [detail.host, detail.path, detail.online ? "Y" : "N", size(detail.totalBytes), size(detail.freeBytes),
             share(detail.freeBytes, detail.totalBytes), detail.totalInodes.map { "\($0)" } ?? "–",
             share(detail.freeInodes, detail.totalInodes), detail.error ?? ""]
        }
        let header = ["Host", "Path", "Online", "Size", "Free", "Free %", "Inodes", "Inodes free %", "Error"]
        return "Detail of volume: \(volume.name) (\(volume.state))\n" + table([header] + rows)
    }

    private static let brickHeader = ["Host", "Path", "Port", "Pid", "Online"]

    private static func brickRow(_ brick: BrickStatus) -> [String] {
        [brick.host, brick.path, "\(brick.port)", brick.pid.map { "\($0)" } ?? "N/A", brick.online ? "Y" : "N"]
    }

    /// `Replica set 0: epoch 3, namespace primary HOST:/PATH, 2 of 3 in sync (needs 2): writable`; a volume that
    /// is not started takes no writes whatever its views say, so it says `stopped` (or `not started`) there.
    static func replicaSetSummary(_ view: ReplicaSetView, members: [BrickStatus], volumeState: String) -> String {
        let primary = view.namespacePrimary.map { member in
            members.indices.contains(member) ? "\(members[member].host):\(members[member].path)" : "member \(member)"
        } ?? "none"
        let inSync = view.inSyncMembers.count
        return "Replica set \(view.setIndex): epoch \(view.epoch), namespace primary \(primary), "
            + "\(inSync) of \(view.members.count) in sync (needs \(view.minInSync)): "
            + (volumeState == "started" ? (view.isWritable ? "writable" : "read-only")
                : volumeState == "created" ? "not started" : volumeState)
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
