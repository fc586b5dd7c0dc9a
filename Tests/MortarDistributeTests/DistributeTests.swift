import Logging
import MortarCore
@testable import MortarDistribute
import MortarTesting
import MortarVolumeSpec
import NIOCore
import Testing

/// A distribute layer over fresh in-memory children, with helpers to look behind its back.
struct Cluster {
    let children: [MemoryFileSystem]
    let layer: Distribute
    let context = OperationContext()

    init(childCount: Int = 3, lookupEverywhere: Bool = true) {
        children = (0..<childCount).map { _ in MemoryFileSystem() }
        // Three to five children and a valid default history: this cannot throw.
        layer = try! Distribute(
            children: children, options: DistributeOptions(lookupEverywhere: lookupEverywhere),
            logger: Logger(label: "test.distribute"))
    }

    /// A name in `parent` that hashes to `child`, distinct from `avoiding`.
    func name(hashingTo child: Int, in parent: FileID, prefix: String = "name", avoiding: Set<String> = []) -> String {
        let layout = Layout.default(childCount: children.count, directory: parent)
        for index in 0..<10_000 {
            let name = "\(prefix)-\(index)"
            if layout.child(for: name) == child, !avoiding.contains(name) { return name }
        }
        preconditionFailure("no name hashes to child \(child)")
    }

    func makeDirectory(_ name: String, in parent: FileID = .root) async throws -> FileID {
        let id = FileID.random()
        _ = try await layer.makeDirectory(name, in: parent, id: id, permissions: 0o755, context: context)
        return id
    }

    @discardableResult
    func makeFile(_ name: String, in parent: FileID, _ bytes: [UInt8] = []) async throws -> FileID {
        let created = try await layer.create(
            name, in: parent, id: .random(), permissions: 0o644, flags: [.readWrite, .create, .exclusive],
            context: context)
        if !bytes.isEmpty {
            _ = try await layer.write(ByteBuffer(bytes: bytes), to: created.file, at: 0, context: context)
        }
        try await layer.release(created.file, context: context)
        return created.file.id
    }

    func contents(_ id: FileID) async throws -> [UInt8] {
        let file = try await layer.open(id, flags: .read, context: context)
        let buffer = try await layer.read(from: file, at: 0, count: 1 << 20, context: context)
        try await layer.release(file, context: context)
        return Array(buffer.readableBytesView)
    }

    /// Whether child `index` has `name` in `parent`, and its attributes.
    func entry(_ name: String, in parent: FileID, onChild index: Int) async -> FileAttributes? {
        try? await children[index].lookup(name, in: parent, context: context)
    }

    func listing(_ directory: FileID, countMax: Int) async throws -> [String] {
        var names: [String] = []
        var cookie: UInt64 = 0
        while true {
            let page = try await layer.readDirectory(directory, after: cookie, countMax: countMax, context: context)
            #expect(page.entries.count <= countMax)
            names += page.entries.map(\.name)
            guard let next = page.nextCookie else { return names }
            cookie = next
        }
    }
}

@Suite("Distribute")
struct DistributeTests {
    @Test(
        "agrees with a single MemoryFileSystem over random sequences",
        arguments: [11, 12, 13, 14, 15, 0xD157] as [UInt64])
    func randomSequence(seed: UInt64) async throws {
        let cluster = Cluster()
        let summary = try await RandomOperationSequence(seed: seed, stepCount: 400).run(
            subject: cluster.layer, reference: MemoryFileSystem())
        for kind in ["create", "write", "read", "rename", "unlink", "makeDirectory"] {
            #expect(summary.successes[kind, default: 0] > 0, "no \(kind) succeeded: \(summary)")
        }
        for child in cluster.children { #expect(child.openHandleCount == 0) }
    }

    @Test(arguments: FileOperationsConformance.checks)
    func conformance(_ check: ConformanceCheck) async throws {
        let cluster = Cluster()
        try await check.run(cluster.layer)
        for child in cluster.children { #expect(child.openHandleCount == 0, "check \(check.name) left handles open") }
    }

    @Test("files spread over every child; directories exist on all")
    func filesSpread() async throws {
        let cluster = Cluster()
        let directory = try await cluster.makeDirectory("spread")
        for index in 0..<60 { try await cluster.makeFile("file-\(index)", in: directory) }
        for (index, child) in cluster.children.enumerated() {
            #expect(try await child.attributes(of: directory, context: cluster.context).type == .directory)
            let page = try await child.readDirectory(directory, after: 0, countMax: 100, context: cluster.context)
            #expect(page.entries.count > 5, "child \(index) holds \(page.entries.count) of 60 files")
        }
        #expect(try await cluster.listing(directory, countMax: 7).count == 60)
    }

    @Test("rename to a name hashing elsewhere keeps FileID and data, and leaves a link file")
    func renameAcrossChildren() async throws {
        let cluster = Cluster()
        let directory = try await cluster.makeDirectory("renames")
        let oldName = cluster.name(hashingTo: 0, in: directory, prefix: "old")
        let newName = cluster.name(hashingTo: 2, in: directory, prefix: "new")
        let id = try await cluster.makeFile(oldName, in: directory, [1, 2, 3])
        try await cluster.layer.rename(
            oldName, in: directory, to: newName, in: directory, flags: [], context: cluster.context)
        let looked = try await cluster.layer.lookup(newName, in: directory, context: cluster.context)
        #expect(looked.id == id)
        #expect(try await cluster.contents(id) == [1, 2, 3])
        #expect(await cluster.entry(newName, in: directory, onChild: 0)?.id == id, "data stays on child 0")
        let linkFile = try #require(await cluster.entry(newName, in: directory, onChild: 2))
        #expect(linkFile.permissions == Distribute.linkFilePermissions)
        #expect(linkFile.size == 0)
        let target = try await cluster.children[2].extendedAttribute(
            Distribute.linkToAttribute, of: linkFile.id, context: cluster.context)
        #expect(target == Array("0".utf8))
        #expect(try await cluster.listing(directory, countMax: 1) == [newName])
        // Unlinking removes the data and the link file.
        try await cluster.layer.unlink(newName, in: directory, context: cluster.context)
        for index in 0..<3 { #expect(await cluster.entry(newName, in: directory, onChild: index) == nil) }
    }

    @Test("a hard link to a name hashing elsewhere gets a link file")
    func hardLinkAcrossChildren() async throws {
        let cluster = Cluster()
        let directory = try await cluster.makeDirectory("links")
        let first = cluster.name(hashingTo: 1, in: directory, prefix: "first")
        let second = cluster.name(hashingTo: 0, in: directory, prefix: "second")
        let id = try await cluster.makeFile(first, in: directory, [4])
        let linked = try await cluster.layer.link(id, as: second, in: directory, context: cluster.context)
        #expect(linked.linkCount == 2)
        #expect(try await cluster.layer.lookup(second, in: directory, context: cluster.context).id == id)
        #expect(await cluster.entry(second, in: directory, onChild: 0)?.permissions == Distribute.linkFilePermissions)
        #expect(Set(try await cluster.listing(directory, countMax: 2)) == [first, second])
    }

    @Test("lookupEverywhere finds a file placed on the wrong child behind the layer's back")
    func lookupEverywhere() async throws {
        for everywhere in [true, false] {
            let cluster = Cluster(lookupEverywhere: everywhere)
            let directory = try await cluster.makeDirectory("misplaced")
            let name = cluster.name(hashingTo: 1, in: directory, prefix: "stray")
            let id = FileID.random()
            let created = try await cluster.children[2].create(
                name, in: directory, id: id, permissions: 0o644, flags: [.readWrite, .create], context: cluster.context)
            try await cluster.children[2].release(created.file, context: cluster.context)
            if everywhere {
                #expect(try await cluster.layer.lookup(name, in: directory, context: cluster.context).id == id)
                #expect(try await cluster.layer.attributes(of: id, context: cluster.context).id == id)
            } else {
                await #expect(throws: FileSystemError.self) {
                    try await cluster.layer.lookup(name, in: directory, context: cluster.context)
                }
            }
        }
    }

    @Test("a directory missing on one child is repaired by lookup")
    func repairsMissingDirectory() async throws {
        let cluster = Cluster()
        let id = try await cluster.makeDirectory("repair-me")
        _ = try await cluster.layer.setAttributes(
            AttributeChanges(permissions: 0o700), of: id, context: cluster.context)
        try await cluster.children[1].removeDirectory("repair-me", in: .root, context: cluster.context)
        #expect(await cluster.entry("repair-me", in: .root, onChild: 1) == nil)
        #expect(try await cluster.layer.lookup("repair-me", in: .root, context: cluster.context).id == id)
        let repaired = try #require(await cluster.entry("repair-me", in: .root, onChild: 1))
        #expect(repaired.id == id)
        #expect(repaired.permissions == 0o700)
    }

    @Test("small pages list every name exactly once, link files hidden", arguments: [1, 2, 5, 64])
    func readDirectoryPaging(countMax: Int) async throws {
        let cluster = Cluster()
        let directory = try await cluster.makeDirectory("paging")
        var expected: [String] = []
        for index in 0..<40 {
            try await cluster.makeFile("f\(index)", in: directory)
            expected.append("f\(index)")
        }
        for index in 0..<4 {
            _ = try await cluster.makeDirectory("d\(index)", in: directory)
            expected.append("d\(index)")
        }
        for index in 0..<10 {  // some renames leave link files behind
            try await cluster.layer.rename(
                "f\(index)", in: directory, to: "r\(index)", in: directory, flags: [], context: cluster.context)
            expected[index] = "r\(index)"
        }
        let names = try await cluster.listing(directory, countMax: countMax)
        #expect(names.sorted() == expected.sorted())
    }

    @Test("statistics add up the children")
    func statisticsSum() async throws {
        let cluster = Cluster()
        let one = try await cluster.children[0].fileSystemStatistics(context: cluster.context)
        let total = try await cluster.layer.fileSystemStatistics(context: cluster.context)
        #expect(total.blocks == 3 * one.blocks)
        #expect(total.files == 3 * one.files)
    }

    @Test("statistics count children that share a file system once")
    func statisticsCountSharedDisksOnce() async throws {
        // Children 0 and 1 are bricks on one disk, 2 on another; 3 and 4 report no file system id, which is never
        // taken for the same disk.
        let memories = (0..<5).map { _ in MemoryFileSystem() }
        let ids: [UInt64] = [7, 7, 9, 0, 0]
        let children = zip(memories, ids).map { SharedDisk(next: $0, fileSystemID: $1) }
        let layer = try Distribute(children: children, logger: Logger(label: "test.distribute"))
        let context = OperationContext()
        let one = try await memories[0].fileSystemStatistics(context: context)
        let total = try await layer.fileSystemStatistics(context: context)
        #expect(total.blocks == 4 * one.blocks)
        #expect(total.blocksAvailable == 4 * one.blocksAvailable)
        #expect(total.files == 4 * one.files)
    }
}

/// A child that reports the file system id its brick's disk would.
private struct SharedDisk: Layer {
    let next: any FileOperations
    let fileSystemID: UInt64

    func fileSystemStatistics(context: OperationContext) async throws -> FileSystemStatistics {
        var statistics = try await next.fileSystemStatistics(context: context)
        statistics.fileSystemID = fileSystemID
        return statistics
    }
}

@Suite("Distribute with faults")
struct DistributeFaultTests {
    @Test("a child failing mid makeDirectory makes the call throw; the next lookup completes the directory")
    func failedFanOutIsRepaired() async throws {
        let memories = (0..<3).map { _ in MemoryFileSystem() }
        let harnesses = memories.map { LayerHarness(next: $0) }
        let layer = try Distribute(children: harnesses, logger: Logger(label: "test.distribute"))
        let context = OperationContext()
        harnesses[2].failNext(.makeDirectory, with: FileSystemError(.inputOutput, "injected disk error"))
        let id = FileID.random()
        let error = await #expect(throws: FileSystemError.self) {
            try await layer.makeDirectory("half", in: .root, id: id, permissions: 0o755, context: context)
        }
        #expect(error?.code == .inputOutput)
        #expect(error?.message.contains("child 2") == true, "\(String(describing: error))")
        #expect(try await memories[0].lookup("half", in: .root, context: context).id == id)
        await #expect(throws: FileSystemError.self) { try await memories[2].lookup("half", in: .root, context: context) }
        #expect(try await layer.lookup("half", in: .root, context: context).id == id)
        #expect(try await memories[2].lookup("half", in: .root, context: context).id == id)
    }

    @Test("link file checks: only ENOENT means absent; EIO or a child gone fails the call")
    func linkFileChecksPropagateErrors() async throws {
        let memories = (0..<2).map { _ in MemoryFileSystem() }
        let harnesses = memories.map { LayerHarness(next: $0) }
        let layer = try Distribute(children: harnesses, logger: Logger(label: "test.distribute"))
        let context = OperationContext()
        let layout = Layout.default(childCount: 2, directory: .root)
        let name = try #require((0..<1_000).map { "moved-\($0)" }.first { layout.child(for: $0) == 1 })
        let id = FileID.random()
        // Removing a link file: the lookup on the hashed child fails.
        harnesses[1].failNext(.lookup, about: name, with: FileSystemError(.inputOutput, "injected"))
        let removal = await #expect(throws: FileSystemError.self) {
            try await layer.removeLinkFile(name, in: .root, keeping: 0, context: context)
        }
        #expect(removal?.code == .inputOutput)
        // Placing one: whether the file already has a link file there cannot be known.
        harnesses[1].failNext(.attributes, about: id.description, with: FileSystemError(.notConnected, "injected"))
        let placement = await #expect(throws: FileSystemError.self) {
            try await layer.placeLinkFile(name, in: .root, id: id, holder: 0, context: context)
        }
        #expect(placement?.code == .notConnected)
        #expect(harnesses[1].count(of: .create) == 0 && harnesses[1].count(of: .link) == 0)
        // ENOENT is "absent": the link file is placed, then removed.
        try await layer.placeLinkFile(name, in: .root, id: id, holder: 0, context: context)
        #expect(try await memories[1].lookup(name, in: .root, context: context).id == id)
        try await layer.removeLinkFile(name, in: .root, keeping: 0, context: context)
        await #expect(throws: FileSystemError.self) { try await memories[1].lookup(name, in: .root, context: context) }
    }

    @Test("operations on an open file go only to the child that opened it")
    func openFilesStayOnTheirChild() async throws {
        let harnesses = (0..<3).map { _ in LayerHarness(next: MemoryFileSystem()) }
        let layer = try Distribute(children: harnesses, logger: Logger(label: "test.distribute"))
        let context = OperationContext()
        let created = try await layer.create(
            "only-here", in: .root, id: .random(), permissions: 0o644, flags: [.readWrite, .create], context: context)
        _ = try await layer.write(ByteBuffer(bytes: [1, 2]), to: created.file, at: 0, context: context)
        _ = try await layer.read(from: created.file, at: 0, count: 2, context: context)
        try await layer.release(created.file, context: context)
        let holder = Layout.default(childCount: 3, directory: .root).child(for: "only-here")
        for (index, harness) in harnesses.enumerated() {
            let expected = index == holder ? 1 : 0
            #expect(harness.count(of: .write) == expected && harness.count(of: .read) == expected, "child \(index)")
        }
        await #expect(throws: FileSystemError.self) {
            try await layer.read(from: created.file, at: 0, count: 1, context: context)
        }
    }
}
