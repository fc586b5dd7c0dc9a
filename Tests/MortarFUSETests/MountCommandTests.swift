import Mortar
import MortarCore
import Testing

@testable import MortarCommands

/// How `mortar mount` reads its source, and how mount(8)'s helper convention is translated.
@Suite("Mount command")
struct MountCommandTests {
    @Test func sourcesParse() throws {
        let cases: [(String, String, Int, String)] = [
            ("mortar://server/vol", "server", 24007, "vol"),
            ("mortar://server:1234/vol/", "server", 1234, "vol"),
            ("server:/vol", "server", 24007, "vol"),
            ("server:vol", "server", 24007, "vol"),
            ("10.0.0.1:2000:/vol", "10.0.0.1", 2000, "vol"),
            ("[::1]:/vol", "::1", 24007, "vol"),
        ]
        for (text, host, port, volume) in cases {
            let source = try VolumeSource(parsing: text)
            #expect(source.server == ServerAddress(host: host, port: port), "\(text)")
            #expect(source.volume == volume, "\(text)")
        }
        for bad in ["vol", ":/vol", "server:/", "mortar://server/vol/sub/dir", "server:/a/b"] {
            #expect(throws: FileSystemError.self, "\(bad)") { _ = try VolumeSource(parsing: bad) }
        }
    }

    @Test func helperArgumentsBecomeAMountCommand() throws {
        #expect(try MountHelper.plan(["h:/v", "/mnt", "-o", "rw,_netdev"]) == .run(["mount", "-o", "rw,_netdev", "h:/v", "/mnt"]))
        #expect(try MountHelper.plan(["-n", "-s", "h:/v", "/mnt", "-ofoo", "-t", "mortar"])
            == .run(["mount", "-o", "foo", "h:/v", "/mnt"]))
        #expect(try MountHelper.plan(["h:/v", "/mnt", "-f"]) == .nothing)
        #expect(throws: FileSystemError.self) { _ = try MountHelper.plan(["h:/v"]) }
        #expect(throws: FileSystemError.self) { _ = try MountHelper.plan(["h:/v", "/mnt", "-Z"]) }
    }
}
