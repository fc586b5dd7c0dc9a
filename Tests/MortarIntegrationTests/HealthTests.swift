import Foundation
import MortarCore
import Testing

/// `mortar health` with real processes: exit 0 on a whole cluster; non-zero, with one line naming the brick, while
/// a replica member is stopped (SIGSTOP: it still accepts connections, so only a real request shows it hung);
/// 0 again once it is back and healed. A threshold no brick can meet shows the free-space check.
@Suite("mortar health", .serialized)
struct HealthTests {
    @Test func healthFollowsAStoppedMemberAndItsHeal() async throws {
        let cluster = try ProcessCluster()
        try await cluster.startDaemon()
        let bricks = try (1...3).map { try cluster.makeBrickDirectory("h\($0)") }
        try await cluster.expectSuccess(["volume", "create", "watched", "replica", "3"] + bricks.map { "127.0.0.1:" + $0 } + ["--force"])
        try await cluster.expectSuccess("volume", "start", "watched")
        try await waitUntil("mortar health says healthy", seconds: 90) {
            try await cluster.run("health").succeeded
        }
        let healthy = try await cluster.run("health", "--json")
        #expect(healthy.output.contains("\"healthy\" : true") && healthy.output.contains("\"bricks\" : 3"), "\(healthy.output)")

        // `volume status VOL detail`: each brick's own statfs.
        let detail = try await cluster.expectSuccess("volume", "status", "watched", "detail", "--json")
        let entries = try JSONSerialization.jsonObject(with: Data(detail.output.utf8)) as? [[String: Any]] ?? []
        #expect(entries.count == 3)
        for entry in entries {
            let total = (entry["totalBytes"] as? NSNumber)?.uint64Value ?? 0
            let free = (entry["freeBytes"] as? NSNumber)?.uint64Value ?? UInt64.max
            #expect(total > 0 && free <= total && entry["error"] == nil, "\(entry)")
        }
        let table = try await cluster.expectSuccess("volume", "status", "watched", "detail")
        #expect(table.output.contains("Free %") && table.output.contains(bricks[2]), "\(table.output)")

        let full = try await cluster.run("health", "--min-free-percent", "100")
        #expect(full.status != 0)
        #expect(full.output.split(separator: "\n").count == 3, "one line per brick: \(full.output)")
        #expect(full.output.contains("of its space free (below 100.0%)"))
        // Certificates: the CLI's own and the daemon's host certificate, each with its CA, against a horizon past
        // every certificate's end.
        let expiring = try await cluster.run("health", "--certificate-days", "100000")
        #expect(expiring.status != 0)
        #expect(expiring.output.contains("the host certificate of the daemon asked"), "\(expiring.output)")
        #expect(expiring.output.contains("this client's certificate"), "\(expiring.output)")
        // Four lines: the client's certificate and CA, the daemon's certificate and CA.
        #expect(expiring.output.split(separator: "\n").count == 4, "\(expiring.output)")

        let pid = try #require(try await cluster.brickProcesses("watched")[1].pid)
        kill(pid, SIGSTOP)
        let stopped = ContinuousClock.now
        var sick = CommandResult(status: 0, output: "", error: "")
        try await waitUntil("mortar health reports the stopped member", seconds: 90) {
            sick = try await cluster.run("health", "--timeout", "2")
            return !sick.succeeded
        }
        print("health went non-zero \(ContinuousClock.now - stopped) after SIGSTOP: \(sick.output)")
        #expect(sick.output.contains("brick 1 (127.0.0.1:\(bricks[1]))"), "\(sick.output)")
        // Stopped long enough for the manager to take it out: the set then has a member out of sync, to be healed.
        try await waitUntil("mortar health reports the member out of sync", seconds: 90) {
            sick = try await cluster.run("health", "--timeout", "2")
            return sick.output.contains("member 1 (127.0.0.1:\(bricks[1])) is out of sync")
        }
        print("out of sync \(ContinuousClock.now - stopped) after SIGSTOP: \(sick.output)")
        #expect(sick.error.isEmpty, "problems go to standard output: \(sick.error)")
        kill(pid, SIGCONT)
        let resumed = ContinuousClock.now
        try await waitUntil("mortar health is healthy again after the member's heal", seconds: 120) {
            try await cluster.run("health").succeeded
        }
        print("health back to 0 \(ContinuousClock.now - resumed) after SIGCONT")
        await cluster.tearDown()
    }

    @Test func badArgumentsAreOneLine() async throws {
        let cluster = try ProcessCluster()
        try await cluster.startDaemon()
        try await cluster.expectFailure("health", "--min-free-percent", "101", mentioning: "min-free-percent")
        try await cluster.expectFailure("health", "--timeout", "0", mentioning: "timeout")
        await cluster.tearDown()
    }
}
