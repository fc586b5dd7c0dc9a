import Logging
import MortarBrickServer
import MortarCore
import MortarManagementAPI
import MortarSecurity
import ServiceLifecycle

/// Keeps a brick at what the manager says, asking every `Limits.volumeOptionsPollMilliseconds` until the brick
/// shuts down: its ``ServerPolicy`` at the volume's options, and (with TLS) its revocation list at the cluster's,
/// cutting the connections of a certificate as soon as it is revoked. While the manager cannot be reached the
/// brick keeps what it has (the options it was started with, or the last it fetched); it never falls back to the
/// defaults, which would open a restricted volume to everyone.
final class VolumeOptionsFollower: Service, Sendable {
    private let client: ManagementClient
    private let volume: String
    private let policy: ServerPolicy
    private let revocations: RevocationList?
    private let service: BrickService
    private let logger: Logger

    init(
        manager: ManagementClient, volume: String, policy: ServerPolicy, revocations: RevocationList?,
        service: BrickService, logger: Logger
    ) {
        self.client = manager
        self.volume = volume
        self.policy = policy
        self.revocations = revocations
        self.service = service
        self.logger = logger
    }

    func run() async throws {
        await cancelWhenGracefulShutdown { await self.follow() }
    }

    private func follow() async {
        var reportedFailure = false
        while !Task.isCancelled {
            do {
                let info = try await client.volumeOptions(name: volume)
                let options = try VolumeOptions(info.values)
                if policy.update(options) {
                    logger.info("volume options changed", metadata: ["options": "\(info.values)"])
                }
                if let revocations {
                    let revoked = try await client.revokedCertificates().certificates
                    let added = revocations.merge(revoked.keys)
                    if !added.isEmpty {
                        let cut = service.disconnect(revoked: added)
                        logger.notice("certificates revoked", metadata: [
                            "revoked": "\(added.map { "\(revoked[$0] ?? "?") (\($0))" }.sorted())",
                            "connectionsClosed": "\(cut)",
                        ])
                    }
                }
                reportedFailure = false
            } catch {
                // Once per outage, not once per poll.
                if !reportedFailure {
                    logger.warning("cannot refresh the volume's options and revocations; keeping the current ones: \(error)")
                    reportedFailure = true
                }
            }
            do {
                try await Task.sleep(for: .milliseconds(Limits.volumeOptionsPollMilliseconds))
            } catch {
                return  // cancelled: the brick is stopping
            }
        }
    }
}
