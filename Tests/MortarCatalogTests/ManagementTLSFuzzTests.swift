import Foundation
import MortarCore
import MortarHTTPClient
import MortarSecurity
import MortarTesting
import NIOCore
import NIOHTTP1
import NIOPosix
import Testing

@testable import MortarManagementAPI

/// The management API fuzzed over TLS, as a daemon in this process serves it: random methods, paths (junk
/// segments, `..`, very long ones, extra segments) and bodies (mutations of valid requests, random bytes). Every
/// request gets an answer; a client certificate never changes anything (each change is 403, or 404 off `/v1/`);
/// an admin's fuzzed changes are answered with the daemon's typed refusals, never an internal error; and the daemon
/// keeps serving throughout.
@Suite struct ManagementTLSFuzzTests {
    static let rounds = 200
    static let methods: [HTTPMethod] = [.GET, .HEAD, .POST, .PUT, .DELETE, .PATCH]
    static let paths = [
        "hello", "peers", "peers/somewhere", "volumes", "volumes/target", "volumes/target/start",
        "volumes/target/stop", "volumes/target/status", "volumes/target/spec", "volumes/target/options",
        "volumes/target/options/auth.allow", "volumes/target/membership", "volumes/target/heal",
        "volumes/target/replace-brick", "agent/check", "agent/start", "agent/stop", "agent/bricks",
        "certificates/revoked",
    ]

    @Test(arguments: [1, 2] as [UInt64])
    func fuzzedRequestsOverTLS(seed: UInt64) async throws {
        print("ManagementTLSFuzzTests seed \(seed)")
        var generator = SplitMix64(seed: seed)
        let harness = try DaemonHarness("tls-fuzz-\(seed)")
        defer { harness.removeDirectory() }
        let bodies = try Self.validBodies(brick: "127.0.0.1:\(try harness.brickDirectory("spare"))")
        try await harness.withDaemon { admin, daemon in
            _ = try await admin.createVolume(name: "target", bricks: ["127.0.0.1:\(try harness.brickDirectory("one"))"])
            let before = try await Self.catalog(admin)
            let client = try TestCertificates.security(harness.certificates.clientDirectory)
            var statuses: [UInt: Int] = [:]
            for _ in 0..<Self.rounds {
                let (method, uri, body) = Self.request(bodies, using: &generator)
                let reply = try await HTTPExchange.perform(
                    host: "127.0.0.1", port: daemon.port, method: method, uri: uri, body: body, security: client,
                    eventLoopGroup: MultiThreadedEventLoopGroup.singleton)
                statuses[reply.status.code, default: 0] += 1
                if method != .GET, method != .HEAD {
                    #expect(
                        reply.status == .forbidden || reply.status == .notFound,
                        "a client certificate's \(method) \(uri) got \(reply.status)")
                }
                #expect(reply.status != .internalServerError, "\(method) \(uri): \(String(buffer: reply.body))")
            }
            print("client certificate: \(Self.rounds) fuzzed requests, answers by status: \(statuses.sorted { $0.key < $1.key })")
            #expect(try await Self.catalog(admin) == before, "a client certificate's fuzzed requests changed the catalog")

            // An admin may change things: the fuzzed changes must be refused with typed errors or done, never crash
            // or wedge the daemon. Deleting and stopping are left out (they would only end the fuzz early).
            statuses = [:]
            let adminSecurity = try TestCertificates.security(harness.certificates.adminDirectory)
            for _ in 0..<Self.rounds {
                var (method, uri, body) = Self.request(bodies, using: &generator)
                if method == .DELETE || uri.hasSuffix("/stop") { method = .GET }
                let reply = try await HTTPExchange.perform(
                    host: "127.0.0.1", port: daemon.port, method: method, uri: uri, body: body, security: adminSecurity,
                    eventLoopGroup: MultiThreadedEventLoopGroup.singleton)
                statuses[reply.status.code, default: 0] += 1
                #expect(reply.status != .internalServerError, "\(method) \(uri): \(String(buffer: reply.body))")
            }
            print("admin certificate: \(Self.rounds) fuzzed requests, answers by status: \(statuses.sorted { $0.key < $1.key })")
            _ = try await admin.hello()
            #expect(try await admin.volumes().contains { $0.name == "target" })
        }
    }

    /// What the catalog says about volumes, as bytes to compare.
    static func catalog(_ admin: ManagementClient) async throws -> [UInt8] {
        Array(try ManagementJSON.encode(try await admin.volumes()).readableBytesView)
    }

    /// Valid bodies of the endpoints that take one, to mutate.
    static func validBodies(brick: String) throws -> [[UInt8]] {
        [
            Array(try ManagementJSON.encode(VolumeCreateRequest(
                name: "fuzzed", bricks: [brick], replicaCount: nil, minInSync: nil, force: false)).readableBytesView),
            Array(#"{"name":"auth.allow","value":"10.0.0.*"}"#.utf8),
            Array(#"{"setIndex":0,"event":{"unreachable":{"member":0}}}"#.utf8),
            Array(#"{"bricks":[{"volume":"target","path":"/tmp/x","port":49152,"index":0}]}"#.utf8),
            Array(#"{"oldBrick":"127.0.0.1:/a","newBrick":"127.0.0.1:/b","force":false}"#.utf8),
            Array(#"{"certificates":{"00ff":"someone"}}"#.utf8),
            Array(#"{"host":"127.0.0.1","port":1}"#.utf8),
        ]
    }

    /// A fuzzed request: a method, a path under `/v1/` (or not) with junk mixed in, and a body.
    static func request(_ bodies: [[UInt8]], using generator: inout SplitMix64) -> (HTTPMethod, String, ByteBuffer?) {
        let method = methods.randomElement(using: &generator)!
        var segments = paths.randomElement(using: &generator)!.split(separator: "/").map(String.init)
        switch Int.random(in: 0..<6, using: &generator) {
        case 0:
            segments[Int.random(in: 0..<segments.count, using: &generator)] = junkSegment(using: &generator)
        case 1:
            segments.append(junkSegment(using: &generator))
        case 2:
            segments.insert("..", at: Int.random(in: 0...segments.count, using: &generator))
        default:
            break
        }
        let prefix = Int.random(in: 0..<10, using: &generator) == 0 ? "/v2/" : "/v1/"
        let uri = prefix + segments.joined(separator: "/")
        let body: ByteBuffer?
        switch Int.random(in: 0..<4, using: &generator) {
        case 0: body = nil
        case 1: body = ByteBuffer(bytes: (0..<Int.random(in: 0..<300, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) })
        default: body = ManagementFuzzTests.fuzzed(bodies.randomElement(using: &generator)!, using: &generator)
        }
        return (method, uri, body)
    }

    /// A path segment that is empty-ish, long, percent-encoded junk, or a name that is almost right.
    static func junkSegment(using generator: inout SplitMix64) -> String {
        switch Int.random(in: 0..<4, using: &generator) {
        case 0: return String(repeating: "a", count: Int.random(in: 256..<4000, using: &generator))
        case 1: return (0..<Int.random(in: 1..<24, using: &generator)).map { _ in
                String(format: "%%%02X", Int.random(in: 0...255, using: &generator))
            }.joined()
        case 2: return ["target2", "TARGET", "target%00", "%2e%2e", "~", "*"].randomElement(using: &generator)!
        default: return String(Int.random(in: Int.min...Int.max, using: &generator))
        }
    }
}
