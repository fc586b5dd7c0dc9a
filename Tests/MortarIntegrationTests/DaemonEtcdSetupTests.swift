import Foundation
import MortarCore
import MortarSecurity
import MortarTesting
import Testing

/// A daemon given etcd members it could never talk to refuses to start, at once and in one line, instead of waiting
/// for an etcd that will never accept it: `https://` members with `--insecure` (no certificate to present), and a
/// host certificate issued before hosts had etcd credentials.
@Suite("Daemon etcd setup")
struct DaemonEtcdSetupTests {
    @Test func aDaemonWithoutEtcdCredentialsRefusesToStart() async throws {
        let scratch = try ProcessCluster.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let certificates = try TestCertificates(directory: scratch + "/tls")
        // A host certificate as older versions issued it: glusterfs.* only.
        for name in [TLSFiles.Names.etcd.certificate, TLSFiles.Names.etcd.privateKey, TLSFiles.Names.etcd.authority] {
            try FileManager.default.removeItem(atPath: certificates.hostDirectory + "/" + name)
        }
        let port = try ProcessCluster.freePort()
        let common = ["daemon", "--state-dir", scratch + "/state", "--listen", "127.0.0.1:\(port)",
                      "--etcd", "https://127.0.0.1:1"]
        for (arguments, reason) in [
            (common + ["--insecure"], "--insecure has no certificate to present to etcd"),
            (common + ["--tls-dir", certificates.hostDirectory], "no etcd.pem in \(certificates.hostDirectory)"),
        ] {
            let result = try await Self.runBounded(arguments)
            #expect(result.status != 0, "mortar \(arguments.joined(separator: " ")) started")
            #expect(result.error.contains(reason), "\(result.error)")
            #expect(result.error.split(separator: "\n").count == 1, "\(result.error)")
        }
    }

    /// Runs the command and waits at most 30 s for it to exit: a daemon that started instead of refusing would
    /// run forever, and is SIGKILLed and reported rather than hanging the suite.
    static func runBounded(_ arguments: [String]) async throws -> CommandResult {
        let errorPath = try ProcessCluster.makeTemporaryDirectory() + "/stderr"
        let process = try Subprocess.start(ProcessCluster.binary, arguments, output: .errorsTo(errorPath))
        let deadline = ContinuousClock.now + .seconds(30)
        while process.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        if process.isRunning {
            process.signal(SIGKILL)
            Issue.record("mortar \(arguments.joined(separator: " ")) was still running after 30 s")
        }
        let status = process.waitUntilExit()
        let text = try String(contentsOfFile: errorPath, encoding: .utf8)
        // Cleanup of scratch output.
        try? FileManager.default.removeItem(atPath: (errorPath as NSString).deletingLastPathComponent)
        return CommandResult(status: status, output: "", error: text)
    }
}
