import MortarCore
import MortarManagementAPI
import MortarMembership
import Testing

@testable import MortarCommands

/// `volume status` and `volume heal info` say what is true of a volume that is not running, or not yet reported.
@Suite("Volume formatting")
struct VolumeFormattingTests {
    private func status(_ state: String) -> VolumeStatus {
        let bricks = (0..<3).map { index in
            BrickStatus(volume: "v", host: "h\(index)", path: "/b", port: 49152 + index, index: index,
                        pid: state == "started" ? 100 + Int32(index) : nil, online: state == "started")
        }
        return VolumeStatus(
            name: "v", state: state, bricks: bricks,
            replicaSets: [ReplicaSetView(setIndex: 0, memberCount: 3, minInSync: 2)])
    }

    @Test func replicaSetLineSaysStoppedForAStoppedVolume() {
        #expect(VolumeFormatting.status(status("started")).contains("(needs 2): writable"))
        let stopped = VolumeFormatting.status(status("stopped"))
        #expect(stopped.contains("(needs 2): stopped"), "\(stopped)")
        #expect(!stopped.contains("writable"), "\(stopped)")
        #expect(VolumeFormatting.status(status("created")).contains("(needs 2): not started"))
    }

    @Test func healInfoTellsNoReportYetFromNotAnswering() {
        func brick(reachable: Bool, awaiting: Bool) -> BrickHealInfo {
            BrickHealInfo(brick: "h:/b", setIndex: 0, member: 0, reachable: reachable, awaitingFirstReport: awaiting,
                          state: .inSync, pending: [], bytesHealed: 0)
        }
        #expect(VolumeFormatting.healInfo([brick(reachable: false, awaiting: true)])
            .hasPrefix("Brick h:/b (replica set 0, member 0): in-sync, no report yet (starting)\n"))
        #expect(VolumeFormatting.healInfo([brick(reachable: false, awaiting: false)])
            .hasPrefix("Brick h:/b (replica set 0, member 0): in-sync, not answering\n"))
        #expect(VolumeFormatting.healInfo([brick(reachable: true, awaiting: false)])
            .hasPrefix("Brick h:/b (replica set 0, member 0): in-sync\n"))
    }

    /// What a brick records for itself (changes it applied, not yet settled) reads as such, not as "for member N".
    @Test func healInfoTellsUnsettledChangesFromThoseOfAbsentMembers() {
        let pending = [
            MemberStatus.Pending(member: 1, files: 2, directories: 0, bytes: 0),
            MemberStatus.Pending(member: 2, files: 3, directories: 1, bytes: 4096),
        ]
        let brick = BrickHealInfo(brick: "h:/b", setIndex: 0, member: 1, reachable: true, awaitingFirstReport: false,
                                  state: .inSync, pending: pending, bytesHealed: 0)
        #expect(VolumeFormatting.healInfo([brick]) == """
            Brick h:/b (replica set 0, member 1): in-sync
              applied here, not yet settled: 2 files, 0 directories
              for member 2: 3 files (4096 changed bytes recorded), 1 directories

            """)
    }
}
