import ArgumentParser
import Foundation
import MortarCore
import MortarManagementAPI
import MortarSecurity

/// `mortar health`: whether the cluster is well, for cron and monitoring — exit 0, or one line per problem and a
/// non-zero exit.
///
/// Checked: the daemon answers; every peer is connected; every brick of every started volume answers a request
/// (a `statfs`, so a brick that accepts connections but is hung counts as down) within `--timeout`, with more than
/// `--min-free-percent` of its blocks and inodes free; no replica set member is out of sync (a healing member is
/// progress, not a problem: it is listed in `--json`); this client's certificate, every daemon's host certificate,
/// and their CA outlive `--certificate-days`.
struct HealthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health",
        abstract: "Check the cluster: peers, bricks, replica sets, free space, certificates; exit 0 when all is well.")

    @OptionGroup var options: ManagerOptions

    @Option(help: "A brick with less free space or inodes than this percentage is a problem.")
    var minFreePercent: Double = 10

    @Option(help: "A certificate (this client's, or its CA) that expires within this many days is a problem.")
    var certificateDays: Int = 30

    @Option(help: "Seconds each brick has to answer.")
    var timeout: Int = 5

    @Flag(help: "Print the report as JSON.")
    var json = false

    /// What `--json` prints.
    struct Report: Codable {
        var healthy: Bool
        var problems: [String]
        var peers: Int
        var volumes: Int
        var bricks: Int
        /// Replica set members being healed, as "volume V set S member M".
        var healing: [String]
    }

    func validate() throws {
        guard (0...100).contains(minFreePercent) else { throw ValidationError("--min-free-percent must be 0…100") }
        guard certificateDays >= 0 else { throw ValidationError("--certificate-days must not be negative") }
        guard (1...600).contains(timeout) else { throw ValidationError("--timeout must be 1…600 seconds") }
    }

    func run() async throws {
        try await reportingFailure {
            let report = try await check()
            if json {
                try printJSON(report)
            } else if report.healthy {
                print("healthy: \(report.peers) peers, \(report.volumes) started volumes, \(report.bricks) bricks"
                    + (report.healing.isEmpty ? "" : "; healing \(report.healing.joined(separator: ", "))"))
            } else {
                for problem in report.problems { print(problem) }
            }
            if !report.healthy { throw ExitCode.failure }
        }
    }

    private func check() async throws -> Report {
        var report = Report(healthy: true, problems: [], peers: 0, volumes: 0, bricks: 0, healing: [])
        let security = try TransportSecurity.client(explicitDirectory: options.tlsDir)
        checkCertificates(security, &report)
        let client = try options.client()
        let hello: HelloResponse
        do {
            hello = try await client.hello()
        } catch {
            report.problems.append("the daemon does not answer: \(FileSystemError.wrapping(error).message)")
            report.healthy = false
            return report
        }
        checkHostCertificates(of: "the daemon asked", hello, &report)
        for peer in try await client.peers() {
            report.peers += 1
            guard peer.state == "connected" else {
                report.problems.append("peer \(peer.host):\(peer.port) is \(peer.state)")
                continue
            }
            // Each daemon says when its own host certificate expires; one that cannot be asked was just seen
            // connected, so a failure here is reported as it is.
            do {
                let peerHello = try await withDeadline(.seconds(timeout), "peer \(peer.host):\(peer.port)'s hello") {
                    try await ManagementClient(host: peer.host, port: peer.port, security: security).hello()
                }
                checkHostCertificates(of: "daemon \(peer.host):\(peer.port)", peerHello, &report)
            } catch {
                report.problems.append(
                    "peer \(peer.host):\(peer.port) does not answer: \(FileSystemError.wrapping(error).message)")
            }
        }
        for volume in try await client.volumes() where volume.state == "started" {
            report.volumes += 1
            let status = try await client.volumeStatus(name: volume.name)
            await withTaskGroup(of: String?.self) { group in
                for brick in status.bricks {
                    group.addTask { await probe(brick, security: security) }
                }
                for await problem in group {
                    report.bricks += 1
                    if let problem { report.problems.append(problem) }
                }
            }
            for view in status.replicaSets {
                for (member, state) in view.members.enumerated() {
                    let brick = status.bricks.first { $0.index == view.setIndex * view.members.count + member }
                    let name = "volume \(volume.name) replica set \(view.setIndex) member \(member)"
                        + (brick.map { " (\($0.host):\($0.path))" } ?? "")
                    switch state {
                    case .inSync: break
                    case .healing: report.healing.append(name)
                    case .outOfSync: report.problems.append("\(name) is out of sync in epoch \(view.epoch)")
                    }
                }
            }
        }
        report.problems.sort()
        report.healthy = report.problems.isEmpty
        return report
    }

    /// nil when the brick answers a `statfs` in time with room to spare; else the problem.
    private func probe(_ brick: BrickStatus, security: TransportSecurity) async -> String? {
        let name = "volume \(brick.volume) brick \(brick.index) (\(brick.host):\(brick.path))"
        let answer = await BrickProbe.statistics(of: brick, security: security, timeoutSeconds: timeout)
        let statistics: FileSystemStatistics
        switch answer {
        case .failure(let error): return "\(name) does not answer: \(FileSystemError.wrapping(error).message)"
        case .success(let answered): statistics = answered
        }
        func percent(_ part: UInt64, of whole: UInt64) -> Double { whole == 0 ? 100 : Double(part) * 100 / Double(whole) }
        let blocks = percent(statistics.blocksAvailable, of: statistics.blocks)
        let inodes = percent(statistics.filesAvailable, of: statistics.files)
        if blocks < minFreePercent {
            return "\(name) has \(String(format: "%.1f", blocks))% of its space free (below \(minFreePercent)%)"
        }
        if inodes < minFreePercent {
            return "\(name) has \(String(format: "%.1f", inodes))% of its inodes free (below \(minFreePercent)%)"
        }
        return nil
    }

    /// The host certificate a daemon serves with, and its CA, must outlive `--certificate-days`.
    private func checkHostCertificates(of daemon: String, _ hello: HelloResponse, _ report: inout Report) {
        let limit = Int64(Date().timeIntervalSince1970) + Int64(certificateDays) * 86_400
        if let expires = hello.certificateExpires, expires < limit {
            report.problems.append("the host certificate of \(daemon) (\(hello.host)) expires \(date(expires))")
        }
        if let expires = hello.authorityExpires, expires < limit {
            report.problems.append("the cluster CA certificate of \(daemon) (\(hello.host)) expires \(date(expires))")
        }
    }

    /// A certificate's end, as ISO 8601.
    private func date(_ seconds: Int64) -> String {
        ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
    }

    private func checkCertificates(_ security: TransportSecurity, _ report: inout Report) {
        guard let context = security.context else { return }
        let limit = Int64(Date().timeIntervalSince1970) + Int64(certificateDays) * 86_400
        if context.expiry.certificate < limit {
            report.problems.append(
                "this client's certificate \(context.identity) in \(context.directory) expires \(date(context.expiry.certificate))")
        }
        if context.expiry.authority < limit {
            report.problems.append("the cluster CA certificate in \(context.directory) expires \(date(context.expiry.authority))")
        }
    }
}
