import Logging
import MortarBrickServer
import MortarCore
import MortarManagementAPI
import ServiceLifecycle

/// Keeps a brick's ``ServerPolicy`` at its volume's options: asks the manager every
/// `Limits.volumeOptionsPollMilliseconds`, until the brick shuts down. While the manager cannot be reached the
/// brick keeps the options it has (those it was started with, or the last it fetched); it never falls back to
/// the defaults, which would open a restricted volume to everyone.
final class VolumeOptionsFollower: Service, Sendable {
    private let client: ManagementClient
    private let volume: String
    private let policy: ServerPolicy
    private let logger: Logger

    init(managerHost: String, managerPort: Int, volume: String, policy: ServerPolicy, logger: Logger) {
        self.client = ManagementClient(host: managerHost, port: managerPort)
        self.volume = volume
        self.policy = policy
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
                reportedFailure = false
            } catch {
                // Once per outage, not once per poll.
                if !reportedFailure {
                    logger.warning("cannot refresh the volume's options; keeping the current ones: \(error)")
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
