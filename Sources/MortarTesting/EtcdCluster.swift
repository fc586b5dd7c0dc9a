import Foundation
import MortarCore
import MortarEtcd
import MortarSecurity

/// etcd members that a test starts on loopback ports of its own, with their data under `directory`, and stops
/// with SIGKILL when it ends (etcd's data is thrown away with the directory). Tests of the control plane run
/// against a real etcd, not a stand-in.
public final class EtcdTestCluster: @unchecked Sendable {
    public let directory: String
    /// Where the members keep their data: in memory (`/dev/shm`) when there is one. etcd fsyncs every write, and
    /// with the whole suite writing to the disk an fsync can take seconds, longer than a 2 s lease; what is under
    /// test here is Mortar's use of etcd, not the disk's latency (the network-namespace test runs etcd on disk).
    public let dataDirectory: String
    public let members: [EtcdMember]
    private let lock = NSLock()
    private var processes: [String: Subprocess] = [:]

    /// The etcd executable; the tests install it with scripts/install-deps.sh (Debian's etcd-server).
    public static let executable = "/usr/bin/etcd"

    /// `count` members, not started yet; with `tlsDirectory` (a host's credentials, their certificate naming
    /// 127.0.0.1), every member serves clients and peers over mutual TLS with its etcd credentials.
    public init(directory: String, count: Int = 1, tlsDirectory: String? = nil) throws {
        self.directory = directory
        var members: [EtcdMember] = []
        for index in 0..<count {
            members.append(EtcdMember(
                name: "m\(index)", host: "127.0.0.1", clientPort: try freeLoopbackPort(), peerPort: try freeLoopbackPort(),
                tlsDirectory: tlsDirectory))
        }
        self.members = members
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let memory = "/dev/shm"
        dataDirectory = FileManager.default.isWritableFile(atPath: memory)
            ? "\(memory)/mortar-etcd-\(UUID().uuidString.prefix(8))" : directory + "/data"
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
    }

    /// Every member's client URL, comma-separated, as `mortar daemon --etcd` takes them.
    public var clientURLs: String { members.map(\.clientURL).joined(separator: ",") }

    /// A client of every member, presenting the credentials in `security` to members that speak TLS (by default
    /// the members' own etcd credentials).
    public func client(security: TransportSecurity? = nil) throws -> EtcdClient {
        let own = try members.first?.tlsDirectory.map { directory in
            TransportSecurity.tls(try TLSContext(directory: directory, names: .etcd))
        }
        return EtcdClient(endpoints: members.map(\.endpoint), security: security ?? own ?? .insecure)
    }

    /// Starts every member and waits until the cluster answers a write.
    public func start() async throws {
        for member in members { try launch(member) }
        try await waitUntilWritable()
    }

    /// Starts one member again (after ``kill(_:)``), with the data it had.
    public func restart(_ name: String) throws {
        guard let member = members.first(where: { $0.name == name }) else {
            throw FileSystemError.invalidArgument("no etcd member \(name)")
        }
        try launch(member)
    }

    private func launch(_ member: EtcdMember) throws {
        guard FileManager.default.isExecutableFile(atPath: Self.executable) else {
            throw FileSystemError.notFound("\(Self.executable) is missing: run scripts/install-deps.sh (etcd-server)")
        }
        let process = try Subprocess.start(
            Self.executable,
            member.arguments(cluster: members, dataDirectory: "\(dataDirectory)/\(member.name)", token: "mortar-test"),
            output: .file("\(directory)/\(member.name).log"))
        lock.withLock { processes[member.name] = process }
    }

    /// SIGKILLs every member and removes their data.
    public func destroy() async throws {
        try await kill()
        // Cleanup of a test's scratch data.
        try? FileManager.default.removeItem(atPath: dataDirectory)
    }

    /// SIGKILLs one member (or every member when nil) and waits for it to be gone.
    public func kill(_ name: String? = nil) async throws {
        let victims: [Subprocess] = lock.withLock {
            let names = name.map { [$0] } ?? Array(processes.keys)
            return names.compactMap { processes.removeValue(forKey: $0) }
        }
        for process in victims {
            process.signal(SIGKILL)
            _ = try await runBlocking { process.waitUntilExit() }
        }
    }

    /// Polls a write until the cluster accepts one (it has a leader); at most 120 s, a generous bound: at the start
    /// of the whole suite, with hundreds of tests starting at once on two cores, a fresh etcd has taken over 30 s
    /// (it answers in under a second alone). Measured: the first put came back after 19–34 s, although the client
    /// gives a member 5 s — the suite's synchronous tests held both cooperative threads that the reply's (or the
    /// timeout's) continuation needed. A start that never comes fails with the last lines of every member's log, which CI
    /// shows.
    public func waitUntilWritable() async throws {
        let started = ContinuousClock.now
        let deadline = started + .seconds(120)
        var last: FileSystemError?
        var attempts = 0
        let client = try client()
        while ContinuousClock.now < deadline {
            attempts += 1
            do {
                try await client.put("/mortar-test/ready", Array("1".utf8))
                return
            } catch {
                last = error
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        let logs = members.map { member in
            // The logs only explain the failure; an unreadable one says so in its place.
            let text = (try? String(contentsOfFile: "\(directory)/\(member.name).log", encoding: .utf8)) ?? "(no log)"
            return "\(member.name): " + text.split(separator: "\n").suffix(4).joined(separator: " | ")
        }
        throw FileSystemError(
            .timedOut,
            "etcd under \(directory) did not accept a write within 120 s (\(attempts) attempts; last: \(last?.message ?? "")); logs: \(logs.joined(separator: "; "))")
    }

    deinit {
        for process in processes.values where process.isRunning { process.signal(SIGKILL) }
        // Cleanup of a test's scratch data, when the test did not call destroy().
        try? FileManager.default.removeItem(atPath: dataDirectory)
    }
}
