import Foundation
import Glibc
import Mortar
import MortarCore
import NIOCore
import Testing

/// Floods against real brick and daemon processes: connections that never speak, and one client that opens files
/// without end, must not starve anyone else or leave the brick's memory and descriptors grown. The flood comes
/// from 127.0.0.2 (another address on loopback), the well-behaved client from 127.0.0.1 or the brick's Unix
/// socket.
@Suite("Bounded resources with real processes", .serialized)
struct ResourceBoundTests {
    /// 20,000 connections that never send a hello, in waves (this process has 20,000 descriptors itself): the brick
    /// closes those beyond its per-address bound at once and the rest at the hello deadline; a client connecting
    /// meanwhile works; afterwards the brick's descriptors are back to where they were and its memory near it.
    @Test func idleConnectionsAreShedAndOthersServed() async throws {
        let (cluster, pid, port) = try await Self.startOneBrickVolume("flood")
        let volume = try await cluster.connect("flood")
        try await Self.write("/before", "before", on: volume)
        let descriptorsBefore = try Self.descriptorCount(pid)
        let memoryBefore = try Self.residentKiB(pid)
        let started = ContinuousClock.now
        var peak = 0
        for wave in 0..<5 {
            let held = try Self.openIdleConnections(4000, to: port, from: "127.0.0.2")
            defer { for descriptor in held { close(descriptor) } }
            // What the brick holds is what counts: connections it shed, and ones the kernel completed with a SYN
            // cookie but never queued, look open from this side.
            try await Task.sleep(for: .milliseconds(500))
            let grown = try Self.descriptorCount(pid) - descriptorsBefore
            peak = max(peak, grown)
            #expect(grown <= Limits.brickConnectionsPerAddressMax + 16, "wave \(wave): the brick holds \(grown) more descriptors")
            // A real client is served in the middle of the flood.
            let other = try await cluster.connect("flood")
            #expect(try await Self.read("/before", on: other) == "before")
            await other.close()
            if wave == 0 {
                // The admitted ones go at the hello deadline while this side still holds them (generous bound:
                // a hang fails).
                try await waitUntil("the brick closes the idle connections it admitted", seconds: 30) {
                    try Self.descriptorCount(pid) <= descriptorsBefore + 4
                }
                print("idle connections: the brick held at most \(grown) more descriptors, back to \(descriptorsBefore) "
                    + "\(ContinuousClock.now - started) after the flood began")
            }
        }
        #expect(peak > 0, "the brick never held a flood connection: the flood did not reach it")
        try await waitUntil("the brick's descriptors return to their count before the flood", seconds: 30) {
            try Self.descriptorCount(pid) <= descriptorsBefore + 4
        }
        let memoryAfter = try Self.residentKiB(pid)
        print("brick memory: \(memoryBefore) KiB before 20,000 idle connections, \(memoryAfter) KiB after")
        #expect(memoryAfter < memoryBefore + 64 * 1024, "brick memory grew from \(memoryBefore) to \(memoryAfter) KiB")
        #expect(try await Self.read("/before", on: volume) == "before")
        await volume.close()
        await cluster.tearDown()
    }

    /// One client opens files until the brick refuses: it gets EMFILE at the per-connection bound the brick derived
    /// from its descriptor limit, and another client still opens, reads and creates files.
    @Test func oneClientCannotTakeEveryDescriptor() async throws {
        let (cluster, pid, _) = try await Self.startOneBrickVolume("opens")
        let budget = DescriptorBudget(descriptors: try Self.descriptorLimit(pid))
        let greedy = try await cluster.connect("opens")
        try await Self.write("/shared", "shared", on: greedy)
        var files: [File] = []
        var refusal: FileSystemError?
        while files.count <= budget.openFilesPerConnectionMax {
            do {
                files.append(try await greedy.open("/shared"))
            } catch let error as FileSystemError {
                refusal = error
                break
            }
        }
        print("one connection opened \(files.count) files; the brick's budget: \(budget)")
        #expect(files.count == budget.openFilesPerConnectionMax)
        #expect(refusal?.code == .tooManyOpenFiles, "the open past the bound failed with \(String(describing: refusal))")
        let other = try await cluster.connect("opens")
        #expect(try await Self.read("/shared", on: other) == "shared")
        try await Self.write("/new", "new", on: other)
        await other.close()
        for file in files { try await file.close() }
        // Closed files give their descriptors back.
        let reopened = try await greedy.open("/shared")
        try await reopened.close()
        await greedy.close()
        try await waitUntil("the brick closes the files of the closed connections", seconds: 30) {
            try Self.descriptorCount(pid) < 200
        }
        await cluster.tearDown()
    }

    /// Connections to the management port that send nothing, from one address, cannot keep the CLI out: a peer
    /// holds at most its share of the slots, and each is closed when it has not sent a request in time.
    @Test func idleManagementConnectionsDoNotBlockTheCLI() async throws {
        let cluster = try ProcessCluster()
        try await cluster.startDaemon()
        let daemon = try #require(cluster.daemonProcessID)
        let descriptorsBefore = try Self.descriptorCount(daemon)
        let held = try Self.openIdleConnections(Limits.managementConnectionsMax + 50, to: cluster.daemonPort, from: "127.0.0.2")
        defer { for descriptor in held { close(descriptor) } }
        let started = ContinuousClock.now
        try await cluster.expectSuccess("volume", "list")
        print("volume list with \(held.count) idle management connections: \(ContinuousClock.now - started)")
        let grown = try Self.descriptorCount(daemon) - descriptorsBefore
        #expect(grown <= Limits.managementConnectionsPerPeerMax + 8, "the daemon holds \(grown) more descriptors")
        try await waitUntil("the daemon closes idle management connections", seconds: 30) {
            try Self.descriptorCount(daemon) <= descriptorsBefore + 2
        }
        print("idle management connections closed \(ContinuousClock.now - started) after they were opened")
        await cluster.tearDown()
    }

    // MARK: Helpers

    static func write(_ path: String, _ text: String, on volume: Volume) async throws {
        let file = try await volume.create(path)
        _ = try await file.write(Array(text.utf8), at: 0)
        try await file.close()
    }

    static func read(_ path: String, on volume: Volume) async throws -> String {
        let file = try await volume.open(path)
        let bytes = try await file.read(count: 4096, at: 0)
        try await file.close()
        return String(buffer: bytes)
    }

    /// A daemon and a started volume `name` of one brick; the brick's process ID and port.
    static func startOneBrickVolume(_ name: String) async throws -> (ProcessCluster, pid: Int32, port: Int) {
        let cluster = try ProcessCluster()
        try await cluster.startDaemon()
        let brick = try cluster.makeBrickDirectory(name)
        try await cluster.expectSuccess("volume", "create", name, "127.0.0.1:" + brick)
        try await cluster.expectSuccess("volume", "start", name)
        let (pid, port) = try await onlyBrick(cluster, name)
        return (cluster, pid, port)
    }

    static func onlyBrick(_ cluster: ProcessCluster, _ volume: String) async throws -> (pid: Int32, port: Int) {
        let result = try await cluster.run("volume", "status", volume, "--json")
        let status = try JSONDecoder().decode(VolumeStatusShape.self, from: Data(result.output.utf8))
        guard let brick = status.bricks.first, let pid = brick.pid else {
            throw FileSystemError(.notConnected, "volume \(volume) has no running brick: \(result.output)")
        }
        return (pid, brick.port)
    }

    private struct VolumeStatusShape: Decodable {
        struct Brick: Decodable {
            var pid: Int32?
            var port: Int
        }
        var bricks: [Brick]
    }

    /// Opens `count` TCP connections from `source` to 127.0.0.1:`port` and sends nothing; the caller closes them.
    /// The connects do not block (a burst overflows the listener's backlog, and a blocked connect would wait a
    /// second for each retried SYN); the call returns once each has connected or failed, or after 5 s.
    static func openIdleConnections(_ count: Int, to port: Int, from source: String) throws -> [Int32] {
        var descriptors: [Int32] = []
        do {
            for _ in 0..<count {
                let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
                guard descriptor >= 0 else { throw FileSystemError.fromErrno("socket", "flood") }
                descriptors.append(descriptor)
                var local = sockaddr_in()
                local.sin_family = sa_family_t(AF_INET)
                local.sin_addr.s_addr = inet_addr(source)
                var remote = sockaddr_in()
                remote.sin_family = sa_family_t(AF_INET)
                remote.sin_addr.s_addr = inet_addr("127.0.0.1")
                remote.sin_port = in_port_t(UInt16(port).bigEndian)
                let length = socklen_t(MemoryLayout<sockaddr_in>.size)
                let bound = withUnsafePointer(to: &local) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
                }
                guard bound == 0 else { throw FileSystemError.fromErrno("bind", source) }
                let connected = withUnsafePointer(to: &remote) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, length) }
                }
                guard connected == 0 || errno == EINPROGRESS else {
                    throw FileSystemError.fromErrno("connect", "127.0.0.1:\(port)")
                }
            }
        } catch {
            for descriptor in descriptors { close(descriptor) }
            throw error
        }
        var pending = descriptors.map { pollfd(fd: $0, events: Int16(POLLOUT), revents: 0) }
        let deadline = ContinuousClock.now + .seconds(5)
        while !pending.isEmpty && ContinuousClock.now < deadline {
            _ = poll(&pending, nfds_t(pending.count), 100)
            pending.removeAll { $0.revents != 0 }
        }
        return descriptors
    }

    /// Whether the connection is not open: it never connected, or the other end closed it (a read would return
    /// end of file or a reset) — never blocks.
    static func isClosedByPeer(_ descriptor: Int32) -> Bool {
        var state = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
        guard poll(&state, 1, 0) == 1, state.revents & Int16(POLLOUT) != 0 else { return true }
        var byte: UInt8 = 0
        let count = recv(descriptor, &byte, 1, Int32(MSG_DONTWAIT | MSG_PEEK))
        return count == 0 || (count < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
    }

    static func descriptorCount(_ pid: Int32) throws -> Int {
        try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count
    }

    static func residentKiB(_ pid: Int32) throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let value = Int(line.split(separator: " ", omittingEmptySubsequences: true)[1])
        else { throw FileSystemError.protocolError("no VmRSS in /proc/\(pid)/status") }
        return value
    }

    /// The soft descriptor limit in force in process `pid` (what the brick raised it to).
    static func descriptorLimit(_ pid: Int32) throws -> Int {
        let limits = try String(contentsOfFile: "/proc/\(pid)/limits", encoding: .utf8)
        guard let line = limits.split(separator: "\n").first(where: { $0.hasPrefix("Max open files") }) else {
            throw FileSystemError.protocolError("no 'Max open files' in /proc/\(pid)/limits")
        }
        let fields = line.dropFirst("Max open files".count).split(separator: " ")
        if fields.first == "unlimited" { return Int.max / 2 }
        guard let soft = fields.first.flatMap({ Int($0) }) else {
            throw FileSystemError.protocolError("unreadable descriptor limit: \(line)")
        }
        return soft
    }
}
