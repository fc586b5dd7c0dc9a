import Foundation
import MortarCore
import MortarManagementAPI
import MortarSecurity
import MortarTesting
import Testing

/// The FUSE mount with real processes: POSIX semantics against a local directory, real tools, a random operation
/// sequence, mounting and unmounting every way a user can, clear errors, and a brick that goes away. CI runs as
/// root, which mounting needs; without /dev/fuse these tests fail loudly rather than skip.
@Suite("FUSE mount", .serialized)
struct MountTests {
    @Test func posixSemanticsMatchALocalDirectory() async throws {
        try await MountedVolume.with { mounted in
            let result = try await MountedVolume.runProgram(
                "/usr/bin/python3", [MountedVolume.script("posix_semantics.py"), mounted.mountPoint, mounted.local])
            #expect(result.succeeded, "POSIX semantics differ from a local directory:\n\(result.output)")
        }
    }

    /// The confinement race through the mount (tests/fuse/confinement_race.py): a directory swapped with a link
    /// that, on the bricks, points beside them, while changes go through a descriptor of the directory (for at
    /// least 3 s and 10 rounds); the directory beside the bricks stays untouched.
    @Test func nothingReachesOutsideTheBricksThroughTheMount() async throws {
        try await MountedVolume.with { mounted in
            let outside = mounted.cluster.directory + "/bricks/outside"
            try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
            #expect(FileManager.default.createFile(atPath: outside + "/victim", contents: Data("original".utf8)))
            // Where the link leads on the client's side: following it there is the client's own business.
            try FileManager.default.createDirectory(
                atPath: mounted.cluster.directory + "/outside", withIntermediateDirectories: true)
            let result = try await MountedVolume.runProgram(
                "/usr/bin/python3", [MountedVolume.script("confinement_race.py"), mounted.mountPoint, outside, "3"])
            print(result.output)
            #expect(result.succeeded, "\(result.output)\nmount log:\n\(mounted.mountLog())")
        }
    }

    /// Every operation on every file type (devices too), as root and as an unprivileged user, set-user-ID and
    /// set-group-ID rules and 255-byte names, against a local directory as the oracle.
    @Test func operationsOnEveryFileTypeMatchALocalDirectory() async throws {
        try await MountedVolume.with { mounted in
            let result = try await MountedVolume.runProgram(
                "/usr/bin/python3", [MountedVolume.script("posix_matrix.py"), mounted.mountPoint, mounted.local])
            #expect(
                result.succeeded,
                "the mount differs from a local directory:\n\(result.output)\nmount log:\n\(mounted.mountLog())")
        }
    }

    /// fsx-style: seeded random calls in lock step on the mount and a local directory. A failure names the seed.
    @Test(arguments: [11, 12, 13] as [UInt64])
    func randomOperationsMatchALocalDirectory(seed: UInt64) async throws {
        try await MountedVolume.with { mounted in
            let result = try await MountedVolume.runProgram(
                "/usr/bin/python3",
                [MountedVolume.script("random_operations.py"), mounted.mountPoint, mounted.local, "\(seed)", "2500"])
            #expect(result.succeeded, "\(result.output)")
        }
    }

    @Test(arguments: ["copy-tar", "rsync", "git", "sqlite", "fio"])
    func realTools(tool: String) async throws {
        try await MountedVolume.with { mounted in
            let scratch = mounted.local + "/" + tool
            try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
            let result = try await MountedVolume.runProgram(
                "/bin/bash", [MountedVolume.script("tools.sh"), tool, mounted.mountPoint, scratch])
            #expect(result.succeeded, "\(tool) on the mount:\n\(result.output)\nmount log:\n\(mounted.mountLog())")
        }
    }

    /// The writeback cache and direct I/O options change how data reaches the volume, not what it is.
    @Test(arguments: ["writeback_cache", "direct_io"])
    func cachingOptionsKeepSemantics(option: String) async throws {
        try await MountedVolume.with(options: [option]) { mounted in
            let result = try await MountedVolume.runProgram(
                "/usr/bin/python3",
                [MountedVolume.script("random_operations.py"), mounted.mountPoint, mounted.local, "21", "1500"]
                    + (option == "writeback_cache" ? ["writeback"] : []))
            #expect(result.succeeded, "with -o \(option): \(result.output)")
        }
    }

    /// `mortar mount` without -f returns once the mount is ready and leaves it serving; `mortar umount` ends it.
    @Test func backgroundMountAndUnmount() async throws {
        try await MountedVolume.with { mounted in
            try await mounted.unmount()
            #expect(!MountedVolume.isMounted(mounted.mountPoint))
            try await mounted.cluster.expectSuccess("mount", "-o", "attr_timeout=2,noatime", mounted.source, mounted.mountPoint)
            #expect(MountedVolume.isMounted(mounted.mountPoint), "mount returned before the mount was there")
            try "visible".write(toFile: mounted.mountPoint + "/file", atomically: false, encoding: .utf8)
            #expect(try String(contentsOfFile: mounted.mountPoint + "/file", encoding: .utf8) == "visible")
            try await mounted.cluster.expectSuccess("umount", mounted.mountPoint)
            #expect(!MountedVolume.isMounted(mounted.mountPoint))
            try await mounted.cluster.expectFailure("umount", mounted.mountPoint, mentioning: "not a mount point")
        }
    }

    /// SIGTERM and SIGINT unmount cleanly: the process exits 0 and leaves no mount behind.
    @Test(arguments: [SIGTERM, SIGINT])
    func signalsUnmount(signal: Int32) async throws {
        try await MountedVolume.with { mounted in
            let process = try #require(mounted.mountProcess)
            process.signal(signal)
            try await waitUntil("the mount process exits after signal \(signal)", seconds: 60) { !process.isRunning }
            #expect(process.terminationStatus == 0, "exit status after signal \(signal): \(mounted.mountLog())")
            #expect(!MountedVolume.isMounted(mounted.mountPoint), "signal \(signal) left the mount behind")
        }
    }

    @Test func clearErrors() async throws {
        try await MountedVolume.with { mounted in
            let cluster = mounted.cluster
            try await cluster.expectFailure("mount", mounted.source, mounted.mountPoint, mentioning: "already a mount point")
            try await cluster.expectFailure("mount", mounted.source, cluster.directory + "/missing", mentioning: "does not exist")
            let file = cluster.directory + "/plain-file"
            #expect(FileManager.default.createFile(atPath: file, contents: nil))
            try await cluster.expectFailure("mount", mounted.source, file, mentioning: "not a directory")
            let spare = cluster.directory + "/spare"
            try FileManager.default.createDirectory(atPath: spare, withIntermediateDirectories: true)
            try await cluster.expectFailure(
                "mount", "127.0.0.1:\(cluster.daemonPort):/nosuchvolume", spare, mentioning: "does not exist")
            try await cluster.expectFailure("mount", "-o", "bogus_option", mounted.source, spare, mentioning: "unknown mount option")
            try await cluster.expectFailure("mount", "not-a-source", spare, mentioning: "not a volume")
            try await cluster.expectSuccess("volume", "create", "idle", "127.0.0.1:" + (try cluster.makeBrickDirectory("idle")))
            try await cluster.expectFailure("mount", "127.0.0.1:\(cluster.daemonPort):/idle", spare, mentioning: "not started")
            #expect(!MountedVolume.isMounted(spare))
        }
    }

    /// mount(8) runs `mount.mortar SPEC DIR -o OPTIONS`: through a link with that name, and through an fstab line
    /// with `mount -T` once `mortar install-mount-helper` has put the link in /sbin.
    @Test func mountHelperAndFstab() async throws {
        try await MountedVolume.with { mounted in
            try await mounted.unmount()
            let helper = mounted.cluster.directory + "/mount.mortar"
            try FileManager.default.createSymbolicLink(atPath: helper, withDestinationPath: ProcessCluster.binary)
            let direct = try await MountedVolume.runProgram(
                helper, [mounted.source, mounted.mountPoint, "-o", "rw,_netdev,entry_timeout=2"],
                environment: [TLSFiles.directoryVariable: mounted.cluster.certificates.clientDirectory])
            #expect(direct.succeeded, "mount.mortar: \(direct.output)")
            #expect(MountedVolume.isMounted(mounted.mountPoint))
            try await mounted.cluster.expectSuccess("umount", mounted.mountPoint)

            let installed = "/sbin/mount.mortar"
            let previous = try? FileManager.default.destinationOfSymbolicLink(atPath: installed)
            try await mounted.cluster.expectSuccess("install-mount-helper")
            let fstab = mounted.cluster.directory + "/fstab"
            // The mount's credentials as an option, as an fstab line gives them.
            let tls = "tls_dir=\(mounted.cluster.certificates.clientDirectory)"
            try "\(mounted.source) \(mounted.mountPoint) mortar defaults,_netdev,attr_timeout=3,\(tls) 0 0\n"
                .write(toFile: fstab, atomically: true, encoding: .utf8)
            let viaMount = try await MountedVolume.runProgram("/bin/mount", ["-T", fstab, mounted.mountPoint])
            if let previous {
                try? FileManager.default.removeItem(atPath: installed)
                try? FileManager.default.createSymbolicLink(atPath: installed, withDestinationPath: previous)
            } else {
                try? FileManager.default.removeItem(atPath: installed)
            }
            #expect(viaMount.succeeded, "mount -T fstab: \(viaMount.output)")
            #expect(MountedVolume.isMounted(mounted.mountPoint))
            let viaUmount = try await MountedVolume.runProgram("/bin/umount", [mounted.mountPoint])
            #expect(viaUmount.succeeded, "umount: \(viaUmount.output)")
            try await waitUntil("the mount is gone", seconds: 10) { !MountedVolume.isMounted(mounted.mountPoint) }
        }
    }

    /// A small file read through the mount comes with its open: the brick sees one `openAndRead` per file and no
    /// open, read or local-read grant — the kernel's reads are answered from the bytes the open brought — and every
    /// byte is right, the file's end included. Writing a file just created asks no brick for extended attributes
    /// (the kernel's security.capability question before a write).
    @Test func smallFilesAreReadWithTheirOpen() async throws {
        try await MountedVolume.with(bricks: 1) { mounted in
            try await mounted.cluster.expectSuccess("volume", "profile", mounted.volume, "start")
            var contents: [String: Data] = [:]
            for index in 0..<20 {
                let path = mounted.mountPoint + "/small-\(index)"
                let data = Data((0..<(index * 3_001 + 1)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ index) })
                try data.write(to: URL(fileURLWithPath: path))
                contents[path] = data
            }
            let written = try await mounted.cluster.expectSuccess("volume", "profile", mounted.volume, "info", "--json")
            let writes = try #require(try JSONDecoder().decode(VolumeProfile.self, from: Data(written.output.utf8)).bricks.first?.value)
            #expect(writes.cumulative.operations.first { $0.operation == "create" }?.calls == 20)
            #expect(writes.cumulative.operations.first { $0.operation == "extendedAttribute" } == nil, "\(writes.cumulative.operations)")
            for (path, data) in contents {
                let read = try Data(contentsOf: URL(fileURLWithPath: path))
                #expect(read == data, "\(path): \(read.count) bytes read, \(data.count) written")
            }
            let result = try await mounted.cluster.expectSuccess("volume", "profile", mounted.volume, "info", "--json")
            let profile = try JSONDecoder().decode(VolumeProfile.self, from: Data(result.output.utf8))
            let brick = try #require(profile.bricks.first?.value)
            func calls(_ operation: String) -> UInt64 {
                brick.interval.operations.first { $0.operation == operation }?.calls ?? 0
            }
            #expect(calls("openAndRead") == 20, "\(brick.cumulative.operations.map { "\($0.operation) \($0.calls)" })")
            #expect(calls("open") == 0 && calls("read") == 0 && calls("grantLocalRead") == 0)
        }
    }

    /// A brick that goes away: calls fail with an error (ENOTCONN or EIO) within a bounded time instead of hanging,
    /// and once it is back the same mount serves the same files again.
    @Test func brickGoingAwayAndComingBack() async throws {
        try await MountedVolume.with(bricks: 1) { mounted in
            let path = mounted.mountPoint + "/data"
            let payload = String(repeating: "mortar ", count: 10_000)
            try payload.write(toFile: path, atomically: false, encoding: .utf8)
            try await mounted.cluster.expectSuccess("volume", "stop", mounted.volume)
            let started = ContinuousClock.now
            let failed = try await MountedVolume.runProgram("/usr/bin/python3", ["-c", """
                import os, errno, sys
                try:
                    fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECT)
                    os.read(fd, 4096)
                    print("read succeeded")
                except OSError as error:
                    print(errno.errorcode[error.errno])
                """, path])
            let output = failed.output.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(["ENOTCONN", "EIO"].contains(output), "reading with the brick gone gave: \(output)")
            #expect(ContinuousClock.now - started < .seconds(60), "the failure took \(ContinuousClock.now - started)")
            try await mounted.cluster.expectSuccess("volume", "start", mounted.volume)
            try await waitUntil("the brick is back", seconds: 60) {
                try await mounted.cluster.brickProcesses(mounted.volume).allSatisfy(\.online)
            }
            try await waitUntil("the mount serves the file again", seconds: 30) {
                (try? String(contentsOfFile: path, encoding: .utf8)) == payload
            }
            try "after".write(toFile: mounted.mountPoint + "/after", atomically: false, encoding: .utf8)
            #expect(try String(contentsOfFile: mounted.mountPoint + "/after", encoding: .utf8) == "after")
        }
    }
}
