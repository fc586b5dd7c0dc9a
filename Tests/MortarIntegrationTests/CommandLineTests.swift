import Foundation
import MortarCore
import Testing

/// The CLI against a real daemon and real brick processes: what a GlusterFS user types, and the bad input they
/// will eventually type (issue: "Bad input and faults — each gets a clear error and loses nothing").
@Suite("mortar CLI with real processes", .serialized)
struct CommandLineTests {
    @Test func volumeLifecycleAndFileTools() async throws {
        let cluster = try ProcessCluster()
        try await cluster.startDaemon()
        let bricks = try (1...3).map { try cluster.makeBrickDirectory("b\($0)") }
        try cluster.expectSuccess(["volume", "create", "files"] + bricks.map { "127.0.0.1:" + $0 })
        try cluster.expectSuccess("volume", "start", "files")
        try await waitUntil("all bricks are online", seconds: 20) {
            try cluster.brickProcesses("files").allSatisfy(\.online)
        }
        let url = "mortar://\(cluster.manager)/files"
        let source = cluster.directory + "/source"
        try FileManager.default.createDirectory(atPath: source + "/nested/deeper", withIntermediateDirectories: true)
        for index in 0..<20 {
            let bytes = (0..<(index * 7919)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ index) }
            #expect(FileManager.default.createFile(atPath: source + "/nested/file-\(index)", contents: Data(bytes)))
        }
        #expect(FileManager.default.createFile(atPath: source + "/nested/deeper/small", contents: Data("hello\n".utf8)))
        try cluster.expectSuccess("cp", "-r", source, url + "/tree")
        let listing = try cluster.expectSuccess("ls", url + "/tree/nested")
        #expect(listing.output.split(separator: "\n").count == 21)
        let small = try cluster.expectSuccess("cat", url + "/tree/nested/deeper/small")
        #expect(small.output == "hello\n")
        try cluster.expectSuccess("cp", "-r", url + "/tree", cluster.directory + "/back")
        for index in 0..<20 {
            let original = FileManager.default.contents(atPath: source + "/nested/file-\(index)")
            let copy = FileManager.default.contents(atPath: cluster.directory + "/back/nested/file-\(index)")
            #expect(original == copy, "file-\(index) differs after the round trip")
        }
        let holders = bricks.filter { brick in
            (try? FileManager.default.contentsOfDirectory(atPath: brick + "/tree/nested"))?
                .contains { $0.hasPrefix("file-") } == true
        }
        #expect(holders.count == 3, "20 files should spread over all 3 bricks, found them on \(holders.count)")
        let stat = try cluster.expectSuccess("stat", url + "/tree/nested/deeper/small")
        #expect(stat.output.contains("Size: 6"))
        try cluster.expectSuccess("mkdir", "-p", url + "/a/b/c")
        try cluster.expectFailure("mkdir", url + "/a/b/c", mentioning: "exists")
        try cluster.expectFailure("rm", url + "/a", mentioning: "directory")
        try cluster.expectSuccess("rm", "-r", url + "/a")
        try cluster.expectFailure("stat", url + "/a", mentioning: "no such file")
        try cluster.expectFailure("cat", url + "/../../etc/passwd", mentioning: "above the volume root")
        try cluster.expectFailure("cat", url + "/" + String(repeating: "n", count: 300), mentioning: "exceeds")
        let info = try cluster.expectSuccess("volume", "info", "files", "--json")
        #expect(info.output.contains("\"files\""))
        await cluster.tearDown()
    }

    @Test func badVolumeRequestsGetClearErrors() async throws {
        let cluster = try ProcessCluster()
        try await cluster.startDaemon()
        let brick = try cluster.makeBrickDirectory("only")
        try cluster.expectFailure(
            "volume", "create", "nodir", "127.0.0.1:" + cluster.directory + "/missing", mentioning: "does not exist")
        try cluster.expectFailure("volume", "create", "bad name!", "127.0.0.1:" + brick, mentioning: "name")
        try cluster.expectSuccess("volume", "create", "first", "localhost:" + brick)
        try cluster.expectFailure("volume", "create", "first", "127.0.0.1:" + brick + "2", mentioning: "first")
        try cluster.expectFailure("volume", "create", "second", "127.0.0.1:" + brick, mentioning: "already part")
        let nested = brick + "/inner"
        try FileManager.default.createDirectory(atPath: nested, withIntermediateDirectories: true)
        try cluster.expectFailure("volume", "create", "third", "127.0.0.1:" + nested, mentioning: "inside")
        try cluster.expectFailure("ls", "mortar://\(cluster.manager)/first", mentioning: "not started")
        try cluster.expectFailure("ls", "mortar://\(cluster.manager)/ghost", mentioning: "does not exist")
        try cluster.expectSuccess("volume", "start", "first")
        try cluster.expectFailure("volume", "start", "first", mentioning: "already started")
        try cluster.expectFailure("volume", "delete", "first", mentioning: "stop")
        try cluster.expectSuccess("volume", "stop", "first")
        try cluster.expectSuccess("volume", "delete", "first")
        let list = try cluster.expectSuccess("volume", "list")
        #expect(!list.output.contains("first"))
        await cluster.tearDown()
    }
}
