import Foundation
import MortarCore
import MortarEtcd
import MortarTesting
import Testing

/// The etcd client against a real etcd that each test starts on ports of its own.
@Suite("etcd client")
struct EtcdClientTests {
    /// Runs `body` with a started cluster of `count` members, removed afterwards.
    static func withCluster(count: Int = 1, _ body: (EtcdTestCluster) async throws -> Void) async throws {
        let directory = NSTemporaryDirectory() + "mortar-it-etcd-\(UUID().uuidString.prefix(8))"
        let cluster = try EtcdTestCluster(directory: directory, count: count)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await cluster.start()
        do {
            try await body(cluster)
        } catch {
            try await cluster.destroy()
            throw error
        }
        try await cluster.destroy()
    }

    @Test func keysAreWrittenReadAndDeleted() async throws {
        try await Self.withCluster { cluster in
            let etcd = try cluster.client()
            #expect(try await etcd.get("/t/absent") == nil)
            let bytes: [UInt8] = [0, 1, 2, 255, 10, 13]
            let revision = try await etcd.put("/t/key", bytes)
            let read = try #require(try await etcd.get("/t/key"))
            #expect(read.value == bytes)
            #expect(read.key == "/t/key")
            #expect(read.modRevision == revision)
            #expect(read.createRevision == revision)
            #expect(read.version == 1)
            try await etcd.delete("/t/key")
            #expect(try await etcd.get("/t/key") == nil)
            try await etcd.delete("/t/key")
        }
    }

    /// Two writers that read the same revision: exactly one transaction succeeds, and the loser learns the
    /// winner's value in the same round trip.
    @Test func aTransactionComparingTheRevisionItReadLetsOneWriterWin() async throws {
        try await Self.withCluster { cluster in
            let etcd = try cluster.client()
            try await etcd.put("/t/catalog", Array("v1".utf8))
            let read = try #require(try await etcd.get("/t/catalog"))
            let outcomes = try await withThrowingTaskGroup(of: EtcdTransactionResult.self) { group in
                for writer in ["a", "b"] {
                    group.addTask {
                        try await etcd.transaction(
                            [.modRevision(key: "/t/catalog", equals: read.modRevision)],
                            success: [.put(key: "/t/catalog", value: Array("v2-\(writer)".utf8))],
                            failure: [.get(key: "/t/catalog")])
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(outcomes.filter(\.succeeded).count == 1)
            let loser = try #require(outcomes.first { !$0.succeeded })
            let winnerValue = try #require(loser.reads.first?.first).value
            #expect(try await etcd.get("/t/catalog")?.value == winnerValue)
            #expect(String(decoding: winnerValue, as: UTF8.self).hasPrefix("v2-"))
        }
    }

    @Test func creationAndValueComparisons() async throws {
        try await Self.withCluster { cluster in
            let etcd = try cluster.client()
            let create = try await etcd.transaction(
                [.createRevision(key: "/t/once", equals: 0)], success: [.put(key: "/t/once", value: [1])])
            #expect(create.succeeded)
            let again = try await etcd.transaction(
                [.createRevision(key: "/t/once", equals: 0)], success: [.put(key: "/t/once", value: [2])],
                failure: [.get(key: "/t/once")])
            #expect(!again.succeeded)
            #expect(again.reads.first?.first?.value == [1])
            let byValue = try await etcd.transaction(
                [.value(key: "/t/once", equals: [1])], success: [.put(key: "/t/once", value: [3])])
            #expect(byValue.succeeded)
            #expect(try await etcd.get("/t/once")?.value == [3])
        }
    }

    /// A key under a lease lives while the lease is renewed and is gone once it is not (or is revoked).
    @Test func keysUnderALeaseGoWithIt() async throws {
        try await Self.withCluster { cluster in
            let etcd = try cluster.client()
            // 15 s: a loaded machine (the full suite on two cores) has stalled this etcd for more than 5 s between
            // two renewals, so a shorter lease lapses here for reasons that are not the client's; 15 s still lets
            // the test watch it expire.
            let lease = try await etcd.grantLease(ttlSeconds: 15)
            #expect(lease.ttlSeconds == 15)
            try await etcd.put("/t/leased", [1], lease: lease.id)
            #expect(try await etcd.get("/t/leased")?.lease == lease.id)
            // Renewed for longer than its TTL: still there.
            let start = ContinuousClock.now
            var last = start
            var longestGap = Duration.zero
            while ContinuousClock.now - start < .seconds(17) {
                #expect(try await etcd.keepAlive(lease.id) > 0)
                longestGap = max(longestGap, ContinuousClock.now - last)
                last = ContinuousClock.now
                try await Task.sleep(for: .seconds(1))
            }
            print("renewals of a 15 s lease: longest gap between two \(longestGap)")
            #expect(try await etcd.get("/t/leased") != nil)
            // Not renewed: gone within its TTL plus etcd's own check interval (bounded generously).
            let stopped = ContinuousClock.now
            while try await etcd.get("/t/leased") != nil {
                #expect(ContinuousClock.now - stopped < .seconds(45), "a key outlived its lease by 45 s")
                if ContinuousClock.now - stopped > .seconds(45) { break }
                try await Task.sleep(for: .milliseconds(200))
            }
            print("a key under a 15 s lease went \(ContinuousClock.now - stopped) after the last renewal")
            #expect(try await etcd.keepAlive(lease.id) == 0)
            let second = try await etcd.grantLease(ttlSeconds: 30)
            try await etcd.put("/t/leased2", [1], lease: second.id)
            try await etcd.revokeLease(second.id)
            #expect(try await etcd.get("/t/leased2") == nil)
            try await etcd.revokeLease(second.id)
        }
    }

    /// With one member of three gone, every call goes to another; with two gone (no quorum), calls fail within
    /// a bounded time naming etcd; with them back, calls work again.
    @Test func membersThatAreGoneArePassedOverAndQuorumLossFailsFast() async throws {
        try await Self.withCluster(count: 3) { cluster in
            let etcd = try cluster.client()
            try await etcd.put("/t/k", [1])
            try await cluster.kill("m0")
            #expect(try await etcd.get("/t/k")?.value == [1])
            try await etcd.put("/t/k", [2])
            try await cluster.kill("m1")
            let start = ContinuousClock.now
            var refusal = ""
            do {
                try await etcd.put("/t/k", [3])
                Issue.record("a write succeeded on one member of three")
            } catch let error as FileSystemError {
                print("without quorum a write failed after \(ContinuousClock.now - start): \(error.message)")
                #expect(error.message.contains("etcd"))
                #expect(ContinuousClock.now - start < .seconds(30))
                refusal = error.message
            }
            try cluster.restart("m0")
            try cluster.restart("m1")
            try await cluster.waitUntilWritable()
            // The refused write may still have been appended by a member that believed it led, and committed once
            // quorum came back: a write that failed is not known not to have happened (why every catalog change
            // compares revisions).
            let value = try await etcd.get("/t/k")?.value
            #expect(value == [2] || value == [3], "after quorum returned: \(String(describing: value))")
            if value == [3] {
                #expect(refusal.contains("may still apply it"), "the refusal of a write that landed did not warn: \(refusal)")
            }
        }
    }

    @Test func urlsAreParsedAndBadOnesNamed() throws {
        #expect(try EtcdEndpoint.parseList("http://127.0.0.1:2379, http://[::1]:2380/") == [
            EtcdEndpoint(host: "127.0.0.1", port: 2379), EtcdEndpoint(host: "::1", port: 2380),
        ])
        #expect(try EtcdEndpoint.parseList("https://10.0.0.1:2379,https://[::1]:2379") == [
            EtcdEndpoint(host: "10.0.0.1", port: 2379, secure: true), EtcdEndpoint(host: "::1", port: 2379, secure: true),
        ])
        #expect(EtcdEndpoint(host: "::1", port: 2379, secure: true).description == "https://[::1]:2379")
        for bad in ["", "127.0.0.1:2379", "http://host", "http://:2379", "http://h:0", "http://h:99999", "ftp://h:2379",
                    "https://h"] {
            #expect(throws: FileSystemError.self, "\(bad)") { try EtcdEndpoint.parseList(bad) }
        }
        let mixed = #expect(throws: FileSystemError.self) { try EtcdEndpoint.parseList("https://a:2379,http://b:2379") }
        #expect(mixed?.message.contains("mix http:// and https://") == true)
    }
}
