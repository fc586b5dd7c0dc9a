import MortarCore
import Testing

/// `auth.allow`/`auth.reject` patterns and root squash, as bricks enforce them.
@Suite("Volume options")
struct VolumeOptionsTests {
    @Test(arguments: [
        ("*", "203.0.113.9", true), ("10.0.0.*", "10.0.0.77", true), ("10.0.0.*", "10.0.1.77", false),
        ("10.*.*.1", "10.9.8.1", true), ("192.168.1.0/24", "192.168.1.200", true),
        ("192.168.1.0/24", "192.168.2.1", false), ("10.0.0.0/8", "10.255.0.1", true), ("0.0.0.0/0", "1.2.3.4", true),
        ("127.0.0.1", "127.0.0.1", true), ("127.0.0.1", "127.0.0.2", false), ("::1", "::1", true),
        ("fd00::/8", "fd12:3456::1", true), ("fd00::/8", "fe80::1", false), ("10.0.0.*", "::1", false),
        ("2001:db8::/32", "2001:db8:0:0:0:0:0:5", true), ("::ffff:10.0.0.1", "::ffff:10.0.0.1", true),
    ] as [(String, String, Bool)])
    func patternsMatchAsWritten(_ pattern: String, _ address: String, _ matches: Bool) throws {
        let parsed = try #require(AddressPattern(pattern))
        #expect(parsed.matches(address) == matches, "\(pattern) vs \(address)")
    }

    @Test(arguments: ["host.example.com", "10.0.0", "10.0.0.256", "10.0.0.0/33", "::1::2", "1.2.3.4/x", "10.0.0.1*", ""])
    func badPatternsAreRefused(_ pattern: String) {
        #expect(AddressPattern(pattern) == nil)
    }

    @Test func setValuesAreValidatedAndNamed() throws {
        #expect(try VolumeOptions.validate("auth.allow", " 10.0.0.*, 192.168.1.0/24 ") == "10.0.0.*, 192.168.1.0/24")
        #expect(throws: FileSystemError.self) { try VolumeOptions.validate("auth.allow", "10.0.0.*,example.com") }
        #expect(throws: FileSystemError.self) { try VolumeOptions.validate("server.root-squash", "maybe") }
        #expect(throws: FileSystemError.self) { try VolumeOptions.validate("server.anonuid", "4294967295") }
        #expect(throws: FileSystemError.self) { try VolumeOptions.validate("server.anonuid", "-1") }
        #expect(throws: FileSystemError.self) { try VolumeOptions.validate("performance.cache-size", "1GB") }
        do {
            _ = try VolumeOptions.validate("auth.reject", "nonsense")
        } catch {
            #expect(error.code == .invalidArgument && error.message.contains("auth.reject"))
        }
        // Every default parses, so `volume get all` and a brick with nothing set agree.
        #expect(try VolumeOptions(VolumeOptions.defaults) == VolumeOptions())
    }

    /// auth.reject wins over auth.allow; a Unix-socket client (nil) is 127.0.0.1 and ::1; the refusal is EACCES.
    @Test func admissionFollowsRejectThenAllow() throws {
        let options = try VolumeOptions(["auth.allow": "10.0.0.*,127.0.0.1", "auth.reject": "10.0.0.13"])
        try options.admit("10.0.0.12")
        try options.admit(nil)
        for refused in ["10.0.0.13", "10.0.1.1", "::1"] {
            do {
                try options.admit(refused)
                Issue.record("\(refused) was admitted")
            } catch {
                #expect(error.code == .permissionDenied && error.message.contains(refused))
            }
        }
        let noLocal = try VolumeOptions(["auth.reject": "::1"])
        #expect(throws: FileSystemError.self) { try noLocal.admit(nil) }
    }

    @Test func squashMapsRootOrEveryone() throws {
        let root = try VolumeOptions(["server.root-squash": "on", "server.anonuid": "4242"])
        #expect(root.squash(userID: 0, groupID: 0, groups: [0, 10]) == (4242, 65534, [10]))
        #expect(root.squash(userID: 1000, groupID: 1000, groups: [0]) == (1000, 1000, []))
        let all = try VolumeOptions(["server.all-squash": "yes", "server.anongid": "77"])
        #expect(all.squash(userID: 1000, groupID: 1000, groups: [5]) == (65534, 77, []))
        let none = VolumeOptions()
        #expect(none.squash(userID: 0, groupID: 0, groups: [0]) == (0, 0, [0]))
    }
}
