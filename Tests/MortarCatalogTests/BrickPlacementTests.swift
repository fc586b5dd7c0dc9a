import MortarCatalog
import MortarCore
import Testing

/// Where a brick may live: never over the daemon's state, and over a system directory only with --force.
@Suite("Brick placement")
struct BrickPlacementTests {
    @Test(arguments: ["/etc", "/etc/ssl", "/usr/share/x", "/proc/1", "/dev", "/var/log/brick", "/boot"])
    func systemDirectoriesNeedForce(_ path: String) throws {
        #expect(throws: FileSystemError.self) {
            try Catalog.checkPlacement(path, stateDirectory: "/var/lib/mortar", force: false)
        }
        try Catalog.checkPlacement(path, stateDirectory: "/var/lib/mortar", force: true)
    }

    /// A brick that contains a system directory exposes it as much as one inside it.
    @Test func aBrickAroundASystemDirectoryNeedsForce() {
        #expect(throws: FileSystemError.self) {
            try Catalog.checkPlacement("/var", stateDirectory: "/srv/state", force: false)
        }
    }

    @Test(arguments: ["/var/lib/mortar", "/var/lib/mortar/bricks/b1", "/var/lib", "/var"])
    func theStateDirectoryIsRefusedEvenWithForce(_ path: String) {
        for force in [false, true] {
            #expect(throws: FileSystemError.self) {
                try Catalog.checkPlacement(path, stateDirectory: "/var/lib/mortar", force: force)
            }
        }
    }

    @Test(arguments: ["/data/brick1", "/srv/mortar/b", "/var/lib/mortar-bricks", "/etcetera", "/usrdata", "/tmp/b"])
    func ordinaryDirectoriesPass(_ path: String) throws {
        try Catalog.checkPlacement(path, stateDirectory: "/var/lib/mortar", force: false)
    }
}
