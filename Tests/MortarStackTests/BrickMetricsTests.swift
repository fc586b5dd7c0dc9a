import Foundation
import Glibc
import MortarCore
import MortarMetrics
import MortarTesting
import NIOCore
import Testing

/// A brick counts what it serves: a known workload through a protocol client shows in the brick's exposition —
/// per operation, per errno, in bytes — exactly, and the text is one Prometheus exposition with help for every
/// family.
@Suite("Brick metrics")
struct BrickMetricsTests {
    /// The value of the sample of `family` whose labels include `labels`; nil when there is none.
    static func value(_ text: String, _ family: String, _ labels: [String: String] = [:]) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(family + "{") || line.hasPrefix(family + " ") {
            let matches = labels.allSatisfy { line.contains("\($0.key)=\"\($0.value)\"") }
            guard matches, let value = line.split(separator: " ").last.flatMap({ Double($0) }) else { continue }
            return value
        }
        return nil
    }

    @Test func aKnownWorkloadShowsInTheBricksMetrics() async throws {
        let brick = try await LoopbackBrick.start(metrics: (volume: "counted", brick: 3))
        defer { brick.removeDirectory() }
        let client = brick.makeClient()
        let context = OperationContext()
        let writes = 37
        let created = try await client.create(
            "counted", in: .root, id: .random(), permissions: 0o644, flags: [.readWrite, .create, .exclusive],
            context: context)
        for index in 0..<writes {
            _ = try await client.write(
                ByteBuffer(repeating: 0x61, count: 4096), to: created.file, at: UInt64(index * 4096), context: context)
        }
        let read = try await client.read(from: created.file, at: 0, count: 10_000, context: context)
        #expect(read.readableBytes == 10_000)
        for _ in 0..<5 {
            await #expect(throws: FileSystemError.self) {
                try await client.lookup("absent", in: .root, context: context)
            }
        }
        let reply = try await client.control(.metrics, context: context)
        guard case .metrics(let text) = reply else {
            Issue.record("a metrics request answered \(reply)")
            return
        }
        let labels = ["volume": "counted", "brick": "3", "export": brick.root]
        #expect(Self.value(text, "mortar_brick_operations_total", labels.merging(["operation": "write"]) { $1 }) == Double(writes))
        #expect(Self.value(text, "mortar_brick_written_bytes_total", labels) == Double(writes * 4096))
        #expect(Self.value(text, "mortar_brick_read_bytes_total", labels) == 10_000)
        #expect(Self.value(text, "mortar_brick_operations_total", ["operation": "lookup"]) == 5)
        #expect(Self.value(text, "mortar_brick_operation_errors_total", ["operation": "lookup", "errno": "ENOENT"]) == 5)
        #expect(Self.value(text, "mortar_brick_operation_duration_seconds_count", ["operation": "write"]) == Double(writes))
        #expect(Self.value(text, "mortar_brick_open_files", labels) == 1)
        // The scrape itself is not counted: nothing was in flight but it.
        #expect(Self.value(text, "mortar_brick_requests_in_flight", labels) == 0)
        #expect(Self.value(text, "mortar_brick_operations_total", ["operation": "control"]) == 0)
        // One exposition: every family once, each with its help.
        var parsed = Exposition()
        try parsed.add(text, from: "the brick")
        for family in parsed.familyNames {
            #expect(text.contains("# HELP \(family) "), "\(family) has no help text")
            #expect(text.components(separatedBy: "# TYPE \(family) ").count == 2, "\(family) is declared more than once")
        }
        try await client.release(created.file, context: context)
        await brick.stop()
    }

    /// A client that is not TLS at all, on a brick that requires it, is counted as a failed handshake; the
    /// brick's own host connection that then asks is served.
    @Test func refusedHandshakesAreCounted() async throws {
        let directory = try LoopbackBrick.makeTemporaryDirectory("mortar-metrics-tls")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let certificates = try TestCertificates(directory: directory + "/tls")
        let host = try TestCertificates.security(certificates.hostDirectory)
        try FileManager.default.createDirectory(atPath: directory + "/brick", withIntermediateDirectories: false)
        let brick = try await LoopbackBrick.start(
            root: directory + "/brick", security: host, metrics: (volume: "guarded", brick: 0))
        for _ in 0..<3 { try Self.sendGarbage(to: brick.port) }
        // The brick counts a refusal as it closes the connection, which the clients above waited for; the count
        // may land a moment after the close is seen, so it is asked again (bounded: a hang fails).
        let client = brick.makeClient(security: host)
        var text = ""
        let deadline = ContinuousClock.now + .seconds(30)
        repeat {
            if case .metrics(let answer) = try await client.control(.metrics, context: OperationContext()) { text = answer }
            if Self.value(text, "mortar_brick_refused_connections_total", ["reason": "tls-handshake"]) == 3 { break }
            try await Task.sleep(for: .milliseconds(50))
        } while ContinuousClock.now < deadline
        #expect(Self.value(text, "mortar_brick_refused_connections_total", ["reason": "tls-handshake"]) == 3, "\(text)")
        #expect(Self.value(text, "mortar_brick_refused_connections_total", ["reason": "hello"]) == 0)
        await brick.stop()
    }

    /// Connects over plain TCP and writes bytes that are not a TLS hello, then closes.
    static func sendGarbage(to port: Int) throws {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw FileSystemError.fromErrno("socket", "garbage client") }
        defer { Glibc.close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw FileSystemError.fromErrno("connect", "garbage client") }
        let garbage = Array("GET / HTTP/1.0\r\n\r\n".utf8)
        _ = garbage.withUnsafeBytes { Glibc.write(socket, $0.baseAddress, $0.count) }
        // Wait for the brick to give up on us (it closes), bounded: a hang fails the test.
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8](repeating: 0, count: 256)
        while buffer.withUnsafeMutableBytes({ Glibc.read(socket, $0.baseAddress, $0.count) }) > 0 {}
    }

    /// A brick assembled without metrics (in-process tests) answers an empty exposition, not an error.
    @Test func aBrickWithoutMetricsAnswersAnEmptyExposition() async throws {
        let brick = try await LoopbackBrick.start()
        defer { brick.removeDirectory() }
        let reply = try await brick.makeClient().control(.metrics, context: OperationContext())
        #expect(reply == .metrics(""))
        await brick.stop()
    }
}
