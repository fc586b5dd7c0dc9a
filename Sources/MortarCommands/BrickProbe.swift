import MortarCore
import MortarManagementAPI
import MortarSecurity
import MortarTransport
import MortarWire
import NIOCore
import NIOPosix

/// Asks one brick directly, as `mortar health` and `volume status detail` do.
enum BrickProbe {
    /// The brick's `statfs`, or why there is none: it did not connect, refused, failed, or did not answer within
    /// `timeoutSeconds` (a hung brick still accepts connections; only a request shows it).
    static func statistics(
        of brick: BrickStatus, security: TransportSecurity, timeoutSeconds: Int
    ) async -> Result<FileSystemStatistics, any Error> {
        do {
            return .success(
                try await BrickConnection.callOnce(
                    .fileSystemStatistics, to: .tcp(host: brick.host, port: brick.port), clientName: "mortar-cli/probe",
                    security: security, eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
                    within: .seconds(timeoutSeconds)
                ).statistics())
        } catch {
            return .failure(error)
        }
    }
}

/// One brick's space and inodes, as `volume status VOL detail` shows them, or why it could not say.
struct BrickDetail: Codable {
    var index: Int
    var host: String
    var path: String
    var online: Bool
    var totalBytes: UInt64?
    var freeBytes: UInt64?
    var totalInodes: UInt64?
    var freeInodes: UInt64?
    var blockSize: UInt64?
    var error: String?

    /// Every brick asked at once, each within 5 s.
    static func gather(_ bricks: [BrickStatus], security: TransportSecurity) async -> [BrickDetail] {
        await withTaskGroup(of: BrickDetail.self) { group in
            for brick in bricks {
                group.addTask {
                    var detail = BrickDetail(index: brick.index, host: brick.host, path: brick.path, online: brick.online)
                    switch await BrickProbe.statistics(of: brick, security: security, timeoutSeconds: 5) {
                    case .success(let statistics):
                        let unit = statistics.fragmentSize > 0 ? statistics.fragmentSize : statistics.blockSize
                        detail.totalBytes = statistics.blocks &* unit
                        detail.freeBytes = statistics.blocksAvailable &* unit
                        detail.totalInodes = statistics.files
                        detail.freeInodes = statistics.filesAvailable
                        detail.blockSize = statistics.blockSize
                    case .failure(let error):
                        detail.error = FileSystemError.wrapping(error).message
                    }
                    return detail
                }
            }
            var details: [BrickDetail] = []
            for await detail in group { details.append(detail) }
            return details.sorted { $0.index < $1.index }
        }
    }
}

