import Foundation
import MortarCore
import MortarDaemon
import MortarManagementAPI
import MortarSecurity
import MortarTesting
import Synchronization
import Testing

/// A daemon in this process on an ephemeral port, with its own state directory, and bricks played by
/// `tests/daemon/fake_brick.py`, which listens on the brick's port, records each start in `.starts` in its brick
/// directory, and exits at once on its first start when that directory holds `.exit-first`.
struct DaemonHarness {
    static let fakeBrick = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("tests/daemon/fake_brick.py").path

    let directory: String
    var configuration: DaemonConfiguration
    /// The cluster's CA and certificates: the daemon runs with `host`, ``withDaemon(_:)``'s client holds `admin`.
    let certificates: TestCertificates

    init(directory: String, configuration: DaemonConfiguration, certificates: TestCertificates) {
        self.directory = directory
        self.configuration = configuration
        self.certificates = certificates
    }

    init(_ label: String) throws {
        directory = try makeTemporaryDirectory(label)
        certificates = try TestCertificates(directory: directory + "/tls")
        configuration = DaemonConfiguration(
            listenHost: "127.0.0.1", listenPort: 0, stateDirectory: directory + "/state", advertisedHost: "127.0.0.1",
            brickCommand: ["/usr/bin/python3", Self.fakeBrick], brickPortMin: Self.nextBrickPortMin(),
            tlsDirectory: certificates.hostDirectory)
    }

    private static let harnessCounter = Atomic<Int>(0)

    /// A port range of 16 per harness, distinct within this test process (a counter, not a random pick, so two
    /// daemons of one run never share a range), below the ephemeral ports and apart from the CLI tests' range.
    static func nextBrickPortMin() -> Int {
        let number = harnessCounter.wrappingAdd(1, ordering: .relaxed).newValue
        return 20_000 + Int(getpid() % 40) * 240 + (number % 15) * 16
    }

    /// A new brick directory under the harness's directory.
    func brickDirectory(_ name: String) throws -> String {
        let path = directory + "/bricks/" + name
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Runs a daemon for the duration of `body`, then shuts it down (stopping its bricks unless told not to: a
    /// daemon of `mortar daemon` leaves them serving) and waits for it.
    func withDaemon(stoppingBricks: Bool = true, _ body: (ManagementClient, Daemon) async throws -> Void) async throws {
        let daemon = try await Daemon.start(configuration: configuration)
        let client = ManagementClient(
            host: configuration.listenHost, port: daemon.port,
            security: try TestCertificates.security(certificates.adminDirectory))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await daemon.run() }
            do {
                try await body(client, daemon)
            } catch {
                daemon.shutdown(stoppingBricks: stoppingBricks)
                try await group.waitForAll()
                throw error
            }
            daemon.shutdown(stoppingBricks: stoppingBricks)
            try await group.waitForAll()
        }
    }

    func removeDirectory() {
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// Polls `condition` until it holds; throws (failing the test, and ending it there: what follows assumes the
/// condition) naming what was awaited and the bound if it does not hold within `seconds`.
func eventually(
    _ what: String, seconds: Int = 30, _ condition: () async throws -> Bool,
    sourceLocation: SourceLocation = #_sourceLocation
) async throws {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(50))
    }
    // One last look: the deadline may have passed during a sleep after which the condition holds.
    if try await condition() { return }
    Issue.record("timed out after \(seconds) s waiting for \(what)", sourceLocation: sourceLocation)
    throw FileSystemError(.timedOut, "gave up after \(seconds) s waiting for \(what)")
}

/// Expects `body` to throw a ``FileSystemError`` with `code` whose message contains `text`.
func expectError(
    _ code: FileSystemError.Code, _ text: String, sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () async throws -> Void
) async {
    do {
        try await body()
        Issue.record("expected \(code) mentioning '\(text)'", sourceLocation: sourceLocation)
    } catch let error as FileSystemError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        #expect(error.message.contains(text), "message: \(error.message)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected a FileSystemError, got \(error)", sourceLocation: sourceLocation)
    }
}
