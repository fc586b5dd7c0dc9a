import MortarCore
import Testing

@testable import MortarFUSE

/// The mount's bookkeeping, without a kernel: node ids for FileIDs, open handles and held-back releases, options.
@Suite("Mount bookkeeping")
struct MountTablesTests {
    @Test func nodesAreStableAcrossLookupsAndGoWhenForgotten() throws {
        var table = InodeTable()
        let file = FileID.random()
        let node = try table.remember(file)
        #expect(node != InodeTable.rootNode)
        #expect(try table.remember(file) == node, "a second name of the same FileID is the same node")
        #expect(table.lookupCount(of: node) == 2)
        table.forget(node, count: 1)
        #expect(table.id(of: node) == file)
        table.forget(node, count: 1)
        #expect(table.id(of: node) == nil, "a node with no lookups left is dropped")
        let again = try table.remember(file)
        #expect(again != node, "node ids are never reused")
        table.forget(InodeTable.rootNode, count: 100)
        #expect(table.id(of: InodeTable.rootNode) == .root, "the root is never forgotten")
    }

    /// A node remembers whether the kernel last saw it as a small regular file: its open then fetches the file's
    /// bytes with it.
    @Test func nodesRememberWhetherTheyAreSmallFiles() throws {
        var table = InodeTable()
        let id = FileID.random()
        let small = FileAttributes(id: id, type: .regular, permissions: 0o644, size: 4096)
        let node = try table.remember(small)
        #expect(table.isSmallFile(node))
        var grown = small
        grown.size = UInt64(Limits.quickReadByteCountMax)
        #expect(try table.remember(grown) == node)
        #expect(!table.isSmallFile(node), "the latest attributes decide")
        let directory = try table.remember(FileAttributes(id: .random(), type: .directory, permissions: 0o755))
        #expect(!table.isSmallFile(directory))
        #expect(!table.isSmallFile(try table.remember(FileID.random())), "unknown attributes: not small")
        #expect(!table.isSmallFile(9_999), "an unknown node")
    }

    @Test func inodeTableIsBounded() throws {
        var table = InodeTable(capacity: 3)
        _ = try table.remember(.random())
        _ = try table.remember(.random())
        #expect(throws: FileSystemError.self) { _ = try table.remember(.random()) }
    }

    /// Releases of a file that was locked wait until its last handle closes (the brick drops a connection's locks
    /// on any release); files never locked are released at once.
    @Test func releasesOfLockedFilesWaitForTheLastHandle() throws {
        var table = OpenFileTable()
        let id = FileID.random()
        let first = try table.add(OpenHandle(file: OpenFile(id: id, handle: 1), flags: .readWrite))
        let second = try table.add(OpenHandle(file: OpenFile(id: id, handle: 2), flags: .read))
        let unlocked = try table.add(OpenHandle(file: OpenFile(id: .random(), handle: 3), flags: .read))
        #expect(table.remove(unlocked).count == 1)
        table.noteLocked(id)
        #expect(table.isLocked(id))
        #expect(table.remove(first).isEmpty, "another handle is open: held back")
        #expect(table.anyOpenFile(of: id)?.handle == 2)
        let released = table.remove(second)
        #expect(Set(released.map(\.handle)) == [1, 2], "the last close releases both")
        #expect(!table.isLocked(id))
        #expect(throws: FileSystemError.self) { _ = try table.handle(first) }
    }

    @Test func optionsParse() throws {
        let options = try MountOptions(parsing: [
            "rw,_netdev,defaults,x-systemd.automount,attr_timeout=2.5,entry_timeout=0",
            "writeback_cache,direct_io,nosuid,noatime,threads=2,noclone_fd,ro,readahead_kb=512",
        ])
        #expect(options.attributeTimeout == 2.5)
        #expect(options.entryTimeout == 0)
        #expect(options.writebackCache && options.directIO && options.readOnly)
        #expect(options.threadCount == 2 && !options.cloneDescriptor)
        #expect(options.readAheadKiB == 512)
        #expect(options.kernelFlags == ["nosuid", "noatime"])
        let libfuse = options.libfuseOptions(source: "host,a:/vol")
        // Device nodes and set-user-ID files work by default (as on ext4 and a root GlusterFS mount); the user's
        // nosuid comes later and wins.
        #expect(libfuse == "default_permissions,fsname=host\\,a:/vol,subtype=mortar,dev,suid,allow_other,ro,nosuid,noatime")
        #expect(try MountOptions(parsing: ["backup_servers=h2:h3"]).backupServers == ["h2", "h3"])
        #expect(try MountOptions(parsing: ["backup-volfile-servers=h4"]).backupServers == ["h4"])
        let metrics = try MountOptions(parsing: ["metrics=127.0.0.1:9300"])
        #expect(metrics.metricsHost == "127.0.0.1" && metrics.metricsPort == 9300)
        #expect(try MountOptions(parsing: ["metrics=[::1]:9301"]).metricsHost == "::1")
        #expect(try MountOptions(parsing: []).metricsHost == nil, "no metrics unless asked for")
        for bad in [
            "bogus", "attr_timeout=-1", "attr_timeout=abc", "threads=0", "threads=99", "nosuid=1", "backup_servers=",
            "backup_servers=a:b:c:d:e:f:g:h:i", "backup_servers=a/b", "metrics=host", "metrics=:9300", "metrics=h:0",
            "metrics=h:70000", "metrics=h:port",
        ] {
            #expect(throws: FileSystemError.self, "\(bad)") { _ = try MountOptions(parsing: [bad]) }
        }
    }

    @Test func mountInfoParses() {
        let text = """
            22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
            95 22 0:41 / /tmp/with\\040space rw,nosuid,nodev,relatime shared:50 - fuse.mortar 127.0.0.1:/vol rw,user_id=0
            """
        let entries = MountTable.parse(text)
        #expect(entries.count == 2)
        #expect(entries[1] == MountTable.Entry(
            device: "0:41", mountPoint: "/tmp/with space", type: "fuse.mortar", source: "127.0.0.1:/vol"))
    }

    @Test func missingDeviceIsAClearError() {
        let error = #expect(throws: FileSystemError.self) {
            try MountTable.checkFUSEDevice("/nonexistent/fuse")
        }
        #expect(error?.code == .notFound)
        #expect(error?.message.contains("modprobe fuse") == true)
    }

    @Test func absentAttributesAreRememberedForTheAttributeTimeout() {
        var cache = AbsentAttributeCache(lifetime: .seconds(1), capacity: 2)
        let id = FileID.random()
        let start = ContinuousClock.now
        cache.noteAbsent("security.capability", on: id, now: start)
        #expect(cache.isKnownAbsent("security.capability", on: id, now: start))
        #expect(!cache.isKnownAbsent("user.other", on: id, now: start), "absence is per name")
        #expect(!cache.isKnownAbsent("security.capability", on: .random(), now: start), "absence is per file")
        #expect(!cache.isKnownAbsent("security.capability", on: id, now: start + .seconds(2)), "it expires")
        cache.forget("security.capability", on: id)
        #expect(!cache.isKnownAbsent("security.capability", on: id, now: start))
        cache.noteAbsent("a", on: id, now: start)
        cache.noteAbsent("b", on: id, now: start)
        cache.noteAbsent("c", on: id, now: start)
        #expect(!cache.isKnownAbsent("a", on: id, now: start), "a full cache starts over rather than grow")
        #expect(cache.isKnownAbsent("c", on: id, now: start))
    }
}
