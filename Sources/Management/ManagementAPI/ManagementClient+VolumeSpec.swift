import MortarCore
import MortarSecurity
import MortarVolumeSpec
import NIOCore

extension ManagementClient {
    /// Fetches a started volume's spec from the first of `servers` that answers. A server that cannot be reached
    /// is skipped; a server's answer (the volume is missing, or not started) is final.
    ///
    /// - Throws: `.notFound` "volume X does not exist", `.notConnected` "volume X is not started", or
    ///   `.connectionRefused` naming every server tried when none answered (`.noSuchDeviceOrAddress` when no name
    ///   resolved).
    public static func fetchVolumeSpec(
        volume: String, servers: [(host: String, port: Int)], security: TransportSecurity,
        eventLoopGroup: any EventLoopGroup
    ) async throws -> VolumeSpec {
        guard !servers.isEmpty else {
            throw FileSystemError.invalidArgument("no management server given to fetch volume \(volume) from")
        }
        var failures: [FileSystemError] = []
        for server in servers {
            let client = ManagementClient(
                host: server.host, port: server.port, security: security, eventLoopGroup: eventLoopGroup)
            do {
                return try await client.volumeSpec(name: volume)
            } catch let error as FileSystemError where isUnreachable(error) {
                failures.append(error)
            }
        }
        // One server: its own error. Several: each one's reason, whole, and their code when they agree (a mistyped
        // host is "cannot resolve", not "refused").
        if failures.count == 1, let only = failures.first { throw only }
        let codes = Set(failures.map(\.code))
        let tried = failures.map(\.description).joined(separator: "; ")
        throw FileSystemError(
            codes.count == 1 ? codes.first ?? .connectionRefused : .connectionRefused,
            "no management server answered for volume \(volume); tried \(tried)")
    }

    private static func isUnreachable(_ error: FileSystemError) -> Bool {
        error.code == .connectionRefused || error.code == .connectionReset || error.code == .timedOut
            || error.code == .protocolError || error.code == .noSuchDeviceOrAddress
    }
}
