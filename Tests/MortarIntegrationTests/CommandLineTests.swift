import Foundation
import MortarCore
import MortarManagementAPI
import Testing

/// The CLI against a real daemon and real brick processes: what a GlusterFS user types, and the bad input they
/// will eventually type (issue: "Bad input and faults — each gets a clear error and loses nothing").
@Suite("mortar CLI with real processes", .serialized)
struct CommandLineTests {
    @Test func volumeLifecycleAndFileTools() async throws {
        let cluster = try ProcessCluster()
        try await cluster.startDaemon()
        let bricks = try (1...3).map { try cluster.makeBrickDirectory("b\($0)") }
        try await cluster.expectSuccess(["volume", "create", "files"] + bricks.map { "127.0.0.1:" + $0 })
        try await cluster.expectSuccess("volume", "start", "files")
        try await waitUntil("all bricks are online", seconds: 60) {
            try await cluster.brickProcesses("files").allSatisfy(\.online)
        }
        let url = "mortar://\(cluster.manager)/files"
        let source = cluster.directory + "/source"
        try FileManager.default.createDirectory(atPath: source + "/nested/deeper", withIntermediateDirectories: true)
        for index in 0..<20 {
            let bytes = (0..<(index * 7919)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ index) }
            #expect(FileManager.default.createFile(atPath: source + "/nested/file-\(index)", contents: Data(bytes)))
        }
        #expect(FileManager.default.createFile(atPath: source + "/nested/deeper/small", contents: Data("hello\n".utf8)))
        try await cluster.expectSuccess("cp", "-r", source, url + "/tree")
        let listing = try await cluster.expectSuccess("ls", url + "/tree/nested")
        #expect(listing.output.split(separator: "\n").count == 21)
        let small = try await cluster.expectSuccess("cat", url + "/tree/nested/deeper/small")
        #expect(small.output == "hello\n")
        try await cluster.expectSuccess("cp", "-r", url + "/tree", cluster.directory + "/back")
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
        let stat = try await cluster.expectSuccess("stat", url + "/tree/nested/deeper/small")
        #expect(stat.output.contains("Size: 6"))
        try await cluster.expectSuccess("mkdir", "-p", url + "/a/b/c")
        try await cluster.expectFailure("mkdir", url + "/a/b/c", mentioning: "exists")
        try await cluster.expectFailure("rm", url + "/a", mentioning: "directory")
        try await cluster.expectSuccess("rm", "-r", url + "/a")
        try await cluster.expectFailure("stat", url + "/a", mentioning: "no such file")
        // Named by the path typed, not by the FileID of the directory it was looked up in.
        try await cluster.expectFailure("stat", url + "/a", mentioning: "'/a' does not exist")
        try await cluster.expectFailure("cat", url + "/tree/none/file", mentioning: "'/tree/none/file': '/tree/none' does not exist")
        try await cluster.expectFailure("rm", url + "/tree/none", mentioning: "'/tree/none' does not exist")
        for arguments in [["stat", url + "/a"], ["cat", url + "/tree/none/file"], ["rm", url + "/tree/none"]] {
            let result = try await cluster.run(arguments)
            #expect(!result.error.contains("0000-0000"), "a FileID in: \(result.error)")
        }
        try await cluster.expectFailure("cat", url + "/../../etc/passwd", mentioning: "above the volume root")
        try await cluster.expectFailure("cat", url + "/" + String(repeating: "n", count: 300), mentioning: "exceeds")
        let info = try await cluster.expectSuccess("volume", "info", "files", "--json")
        #expect(info.output.contains("\"files\""))
        await cluster.tearDown()
    }

    @Test func badVolumeRequestsGetClearErrors() async throws {
        let cluster = try ProcessCluster()
        try await cluster.startDaemon()
        let brick = try cluster.makeBrickDirectory("only")
        try await cluster.expectFailure(
            "volume", "create", "nodir", "127.0.0.1:" + cluster.directory + "/missing", mentioning: "does not exist")
        try await cluster.expectFailure("volume", "create", "bad name!", "127.0.0.1:" + brick, mentioning: "name")
        try await cluster.expectSuccess("volume", "create", "first", "localhost:" + brick)
        try await cluster.expectFailure("volume", "create", "first", "127.0.0.1:" + brick + "2", mentioning: "first")
        try await cluster.expectFailure("volume", "create", "second", "127.0.0.1:" + brick, mentioning: "already part")
        let nested = brick + "/inner"
        try FileManager.default.createDirectory(atPath: nested, withIntermediateDirectories: true)
        try await cluster.expectFailure("volume", "create", "third", "127.0.0.1:" + nested, mentioning: "inside")
        try await cluster.expectFailure("ls", "mortar://\(cluster.manager)/first", mentioning: "not started")
        try await cluster.expectFailure("ls", "mortar://\(cluster.manager)/ghost", mentioning: "does not exist")
        try await cluster.expectSuccess("volume", "start", "first")
        try await cluster.expectFailure("volume", "start", "first", mentioning: "already started")
        try await cluster.expectFailure("volume", "delete", "first", mentioning: "stop")
        try await cluster.expectSuccess("volume", "stop", "first")
        try await cluster.expectSuccess("volume", "delete", "first")
        let list = try await cluster.expectSuccess("volume", "list")
        #expect(!list.output.contains("first"))
        await cluster.tearDown()
    }

    /// Brick paths are compared as strings, so every path the catalog takes must be the directory's only name:
    /// one reached through a symbolic link (into another brick, or anywhere) is refused naming the real path, as
    /// are system directories (unless --force) and the daemon's state directory (even with --force).
    @Test func brickPathsMustBeRealPrivateDirectories() async throws {
        let cluster = try ProcessCluster()
        try await cluster.startDaemon()
        let brick = try cluster.makeBrickDirectory("real")
        try await cluster.expectSuccess("volume", "create", "first", "127.0.0.1:" + brick)
        let inner = brick + "/inner"
        try FileManager.default.createDirectory(atPath: inner, withIntermediateDirectories: true)
        let link = cluster.directory + "/link"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: inner)
        let refused = try await cluster.run("volume", "create", "linked", "127.0.0.1:" + link)
        #expect(!refused.succeeded && refused.error.contains("symbolic link") && refused.error.contains(inner),
                "a brick through a link into another brick: \(refused.error)")
        try await cluster.expectFailure(
            "volume", "create", "linked", "127.0.0.1:" + link + "/deeper", "--force", mentioning: "symbolic link")
        #expect(!FileManager.default.fileExists(atPath: inner + "/deeper"), "--force made a directory through the link")
        try await cluster.expectFailure("volume", "create", "system", "127.0.0.1:/etc", mentioning: "system directory")
        try await cluster.expectFailure("volume", "create", "system", "127.0.0.1:/usr/share", mentioning: "system directory")
        try await cluster.expectFailure(
            "volume", "create", "state", "127.0.0.1:" + cluster.directory + "/state/bricks", "--force",
            mentioning: "state directory")
        let list = try await cluster.expectSuccess("volume", "list")
        #expect(list.output.split(separator: "\n") == ["first"], "refused volumes were created: \(list.output)")
        await cluster.tearDown()
    }

    /// The host agent's API checks every field of a brick assignment, whoever sends it: a volume name that would
    /// put the brick's log outside the log directory, an unnormalised path, a port out of range, a bad manager or
    /// alternate (one that would be an option of the brick's command line included).
    @Test func agentAssignmentsAreValidated() async throws {
        let cluster = try ProcessCluster()
        try await cluster.startDaemon()
        // The agent's API is for cluster hosts (SecurityTests shows an admin is refused it).
        let client = try cluster.managementClient(credentials: cluster.certificates.hostDirectory)
        let brick = try cluster.makeBrickDirectory("agent")
        let cases: [(AgentBrick, String)] = [
            (AgentBrick(volume: "../../escape", path: brick, port: 40000, index: 0), "volume name"),
            (AgentBrick(volume: "v", path: brick + "/../agent", port: 40000, index: 0), "'..'"),
            (AgentBrick(volume: "v", path: brick + "//", port: 40000, index: 0), "not normalised"),
            (AgentBrick(volume: "v", path: brick, port: 0, index: 0), "port"),
            (AgentBrick(volume: "v", path: brick, port: 40000, index: 0, manager: "nowhere"), "HOST:PORT"),
            (AgentBrick(volume: "v", path: brick, port: 40000, index: 0, manager: "h:1", alternateManagers: ["--insecure:2"]),
             "HOST:PORT"),
            (AgentBrick(volume: "v", path: brick, port: 40000, index: 0, alternateManagers: ["h:1"]), "without a manager"),
        ]
        for (assignment, reason) in cases {
            for call in ["start", "stop"] {
                do {
                    if call == "start" { try await client.startBricks([assignment]) } else {
                        try await client.stopBricks([assignment])
                    }
                    Issue.record("agent \(call) accepted \(assignment)")
                } catch {
                    #expect("\(error)".contains(reason), "agent \(call) of \(assignment): \(error)")
                }
            }
        }
        let logs = try FileManager.default.contentsOfDirectory(atPath: cluster.directory + "/state/logs/bricks")
        #expect(logs.isEmpty, "an invalid assignment left brick logs: \(logs)")
        #expect(!FileManager.default.fileExists(atPath: cluster.directory + "/escape-0.log"))
        await cluster.tearDown()
    }

    /// `mortar brick` names a bad manager or alternate in one line before it touches anything.
    @Test func brickManagersAreValidated() async throws {
        let cluster = try ProcessCluster()
        let brick = try cluster.makeBrickDirectory("managers")
        let base = ["brick", "--export", brick, "--port", "1", "--insecure"]
        for bad in ["nowhere", "h:0", "h:99999", ":24007"] {
            try await cluster.expectFailure(base + ["--manager", bad], mentioning: "a manager must be HOST:PORT")
            try await cluster.expectFailure(
                base + ["--manager", "h:1", "--alternate-manager", bad], mentioning: "a manager must be HOST:PORT")
        }
        try await cluster.expectFailure(base + ["--alternate-manager", "h:1"], mentioning: "needs --manager")
        let tooMany = (0...Limits.brickAlternateManagersMax).flatMap { ["--alternate-manager", "h\($0):1"] }
        try await cluster.expectFailure(base + ["--manager", "h:1"] + tooMany, mentioning: "at most")
        await cluster.tearDown()
    }

    /// Replicated volumes as far as they exist: created, shown and changed in the catalog. None is started: the
    /// client's replicate layer does not exist yet.
    @Test func replicatedVolumesAreCreatedShownAndChanged() async throws {
        let cluster = try ProcessCluster()
        try await cluster.startDaemon()
        let three = try (1...3).map { "127.0.0.1:" + (try cluster.makeBrickDirectory("r\($0)")) }
        let six = try (1...6).map { "127.0.0.1:" + (try cluster.makeBrickDirectory("s\($0)")) }
        try await cluster.expectFailure(["volume", "create", "rep", "replica", "3"] + three,
                                  mentioning: "bricks 0 and 1 of replica set 0 are both on host 127.0.0.1")
        try await cluster.expectSuccess(["volume", "create", "rep", "replica", "3"] + three + ["--force"])
        try await cluster.expectSuccess(["volume", "create", "wide", "replica", "3"] + six + ["--force"])
        let wide = try await cluster.expectSuccess("volume", "info", "wide")
        #expect(wide.output.contains("Type: Distributed-Replicate"), "\(wide.output)")
        #expect(wide.output.contains("Number of Bricks: 2 x 3 = 6"), "\(wide.output)")
        #expect(wide.output.contains("Min In Sync: 2 of 3"), "\(wide.output)")

        let spare = (1...4).map { "127.0.0.1:\(cluster.directory)/spare\($0)" }
        try await cluster.expectFailure(["volume", "create", "bad", "replica", "3"] + spare + ["--force"],
                                  mentioning: "4 bricks do not divide into sets of 3")
        try await cluster.expectFailure(["volume", "create", "bad", "replica", "3", "min-in-sync", "4"]
                                      + spare.prefix(3) + ["--force"],
                                  mentioning: "min-in-sync 4 is not possible with replica 3")
        try await cluster.expectFailure(["volume", "create", "bad"] + spare.prefix(3) + ["replica", "3"],
                                  mentioning: "replica goes before the bricks")
        try await cluster.expectSuccess(["volume", "create", "opts", "--replica", "2", "--min-in-sync", "1"]
                                      + spare.prefix(2) + ["--force"])
        let options = try await cluster.expectSuccess("volume", "info", "opts")
        #expect(options.output.contains("Type: Replicate") && options.output.contains("Min In Sync: 1 of 2"),
                "\(options.output)")

        let fresh = try await cluster.expectSuccess("volume", "status", "rep")
        #expect(fresh.output.contains("Replica set 0: epoch 1,"), "\(fresh.output)")
        #expect(Self.lines(fresh.output, containing: " in-sync").count == 3, "\(fresh.output)")
        #expect(!fresh.output.contains("out-of-sync"), "\(fresh.output)")

        let replacement = cluster.directory + "/bricks/new"
        try await cluster.expectFailure("volume", "replace-brick", "rep", three[1], "127.0.0.1:" + replacement,
                                  mentioning: "add --force to accept that")
        try await cluster.expectFailure("volume", "replace-brick", "rep", "127.0.0.1:/nowhere", "127.0.0.1:" + replacement,
                                  "--force", mentioning: "is not part of volume rep")
        try await cluster.expectSuccess("volume", "replace-brick", "rep", three[1], "127.0.0.1:" + replacement, "--force")
        let info = try await cluster.expectSuccess("volume", "info", "rep")
        #expect(info.output.contains("Brick2: 127.0.0.1:\(replacement) "), "\(info.output)")
        let moved = try await cluster.expectSuccess("volume", "status", "rep")
        #expect(moved.output.contains("Replica set 0: epoch 2,"), "\(moved.output)")
        let replaced = Self.lines(moved.output, containing: replacement)
        #expect(replaced.count == 1 && replaced[0].hasSuffix("out-of-sync"), "\(moved.output)")
        #expect(Self.lines(moved.output, containing: " in-sync").count == 2, "\(moved.output)")
        await cluster.tearDown()
    }

    /// Argument errors: one line that says what was wrong and which help to read, exit status 64 (EX_USAGE) —
    /// not ArgumentParser's error, help line and whole usage.
    @Test func argumentErrorsAreOneLine() async throws {
        let cluster = try ProcessCluster()
        let cases: [(arguments: [String], reason: String, help: String)] = [
            (["volume", "create"], "missing expected argument '<name>'", "see 'mortar volume create --help'"),
            (["volume", "list", "--bogus"], "unknown option '--bogus'", "see 'mortar volume list --help'"),
            (["volume", "heal", "v", "bogus"], "unknown heal action 'bogus'", "see 'mortar volume heal --help'"),
            (["frobnicate"], "unexpected argument 'frobnicate'", "see 'mortar --help'"),
        ]
        for (arguments, reason, help) in cases {
            try await cluster.expectFailure(arguments, mentioning: reason)
            let result = try await cluster.run(arguments)
            #expect(result.status == 64, "mortar \(arguments.joined(separator: " ")) exited \(result.status)")
            #expect(result.error.hasPrefix("mortar: ") && result.error.contains(help), "\(result.error)")
            #expect(result.output.isEmpty, "\(result.output)")
        }
        let help = try await cluster.run("volume", "create", "--help")
        #expect(help.succeeded && help.output.contains("USAGE:"), "\(help.output)")
        await cluster.tearDown()
    }

    /// A host that does not resolve is one line saying so (not a resolver dump plus "Connection refused"); an
    /// unreachable daemon says "Connection refused" once.
    @Test func unreachableManagersAreOneClearLine() async throws {
        let cluster = try ProcessCluster()
        let host = "no-such-host.invalid"
        for arguments in [["volume", "list", "--manager", host], ["volume", "list", "--manager", host + ":24007"],
                          ["ls", "mortar://\(host)/vol"]]
        {
            try await cluster.expectFailure(arguments, mentioning: "cannot resolve host '\(host)'")
            let result = try await cluster.run(arguments)
            #expect(!result.error.localizedCaseInsensitiveContains("refused"), "\(result.error)")
            #expect(!result.error.contains("NIOConnectionError") && !result.error.contains("UnknownHost"),
                    "\(result.error)")
        }
        let port = try ProcessCluster.freePort()
        for arguments in [["volume", "list", "--manager", "127.0.0.1:\(port)"], ["ls", "mortar://127.0.0.1:\(port)/vol"]] {
            try await cluster.expectFailure(arguments, mentioning: "cannot reach the mortar daemon at 127.0.0.1:\(port)")
            let result = try await cluster.run(arguments)
            #expect(result.error.components(separatedBy: "Connection refused").count == 2, "\(result.error)")
        }
        await cluster.tearDown()
    }

    /// Right after `volume start` no heartbeat has answered yet: heal info says so instead of "not answering",
    /// and a stopped volume's replica set says "stopped", not "writable".
    @Test func freshlyStartedAndStoppedReplicatedVolumesTellTheTruth() async throws {
        let cluster = try ProcessCluster()
        try await cluster.startDaemon()
        let bricks = try (1...3).map { "127.0.0.1:" + (try cluster.makeBrickDirectory("h\($0)")) }
        try await cluster.expectSuccess(["volume", "create", "fresh", "replica", "3"] + bricks + ["--force"])
        try await cluster.expectSuccess("volume", "start", "fresh")
        let early = try await cluster.expectSuccess("volume", "heal", "fresh", "info")
        #expect(!early.output.contains("not answering"), "\(early.output)")
        #expect(Self.lines(early.output, containing: "Brick ").count == 3, "\(early.output)")
        let replicated = ReplicatedCluster(cluster: cluster, volume: "fresh", brickDirectories: bricks)
        try await replicated.waitUntilInSync()
        try await waitUntil("every brick has answered a heartbeat", seconds: 60) {
            try await replicated.healInfo().allSatisfy { $0.reachable && !$0.awaitingFirstReport }
        }
        let later = try await cluster.expectSuccess("volume", "heal", "fresh", "info")
        #expect(!later.output.contains("not answering") && !later.output.contains("no report yet"), "\(later.output)")
        let running = try await cluster.expectSuccess("volume", "status", "fresh")
        #expect(running.output.contains("(needs 2): writable"), "\(running.output)")
        try await cluster.expectSuccess("volume", "stop", "fresh")
        let stopped = try await cluster.expectSuccess("volume", "status", "fresh")
        #expect(stopped.output.contains("(needs 2): stopped"), "\(stopped.output)")
        #expect(!stopped.output.contains("writable"), "\(stopped.output)")
        await cluster.tearDown()
    }

    static func lines(_ text: String, containing part: String) -> [Substring] {
        text.split(separator: "\n").filter { $0.contains(part) }
    }
}
