import Logging
import MortarCore
import MortarDistribute
import MortarTesting
import MortarVolumeSpec
import NIOCore
import Synchronization
import Testing

/// A distribute layer that grows (add-brick) while it holds files: nothing stored before is lost from view, new
/// names go by the newest generation at once, and a layer that has not heard of the growth catches up on a miss.
@Suite("Distribute growth")
struct DistributeGrowthTests {
    static let context = OperationContext()

    static func layer(over children: [MemoryFileSystem], history: LayoutHistory? = nil, lookupEverywhere: Bool = false)
        throws -> Distribute
    {
        try Distribute(
            children: children, options: DistributeOptions(lookupEverywhere: lookupEverywhere, layout: history),
            logger: Logger(label: "test.distribute"))
    }

    static func makeFile(_ name: String, in parent: FileID, on layer: Distribute, _ text: String) async throws -> FileID {
        let created = try await layer.create(
            name, in: parent, id: .random(), permissions: 0o644, flags: [.readWrite, .create, .exclusive],
            context: context)
        _ = try await layer.write(ByteBuffer(string: text), to: created.file, at: 0, context: context)
        try await layer.release(created.file, context: context)
        return created.file.id
    }

    static func read(_ name: String, in parent: FileID, on layer: Distribute) async throws -> String {
        let attributes = try await layer.lookup(name, in: parent, context: context)
        let file = try await layer.open(attributes.id, flags: .read, context: context)
        let buffer = try await layer.read(from: file, at: 0, count: 4096, context: context)
        try await layer.release(file, context: context)
        return String(buffer: buffer)
    }

    static func holder(of name: String, in parent: FileID, among children: [MemoryFileSystem]) async -> [Int] {
        var holders: [Int] = []
        for (index, child) in children.enumerated() {
            if (try? await child.lookup(name, in: parent, context: context)) != nil { holders.append(index) }
        }
        return holders
    }

    @Test("after growing 2 → 4, files stored before are found where they are; new ones land on the new children")
    func growsUnderItsFiles() async throws {
        let old = [MemoryFileSystem(), MemoryFileSystem()]
        let layer = try Self.layer(over: old)  // lookup-everywhere off: only the generations lead to a file
        let directory = FileID.random()
        _ = try await layer.makeDirectory("d", in: .root, id: directory, permissions: 0o755, context: Self.context)
        for index in 0..<120 { _ = try await Self.makeFile("old-\(index)", in: directory, on: layer, "old \(index)") }

        let added = [MemoryFileSystem(), MemoryFileSystem()]
        let history = LayoutHistory(initialChildCount: 2, changes: [.added(2)])
        try layer.grow(adding: added, history: history)
        let all = old + added
        #expect(layer.children.count == 4)

        // Every old file is still found and read (half of them now hash to a new child that does not have them).
        let generations = Layout.generations(history, directory: directory)
        var movedByLayout = 0
        for index in 0..<120 {
            #expect(try await Self.read("old-\(index)", in: directory, on: layer) == "old \(index)")
            if generations[1].child(for: "old-\(index)") >= 2 { movedByLayout += 1 }
        }
        #expect(movedByLayout > 30, "only \(movedByLayout) of 120 names hash to a new child")

        // New files go to their newest-generation child; the new children lack `d` (made before they joined,
        // no lookup by name has repaired it): those go where the previous generation places them instead.
        var onNew = 0
        for index in 0..<60 {
            let name = "new-\(index)"
            _ = try await Self.makeFile(name, in: directory, on: layer, name)
            let holders = await Self.holder(of: name, in: directory, among: all)
            #expect(holders.count == 1, "\(name) on \(holders)")
            #expect(holders == [generations[1].child(for: name)] || holders == [generations[0].child(for: name)])
            #expect(try await Self.read(name, in: directory, on: layer) == name)
        }
        // Once a lookup of `d` by name repaired it on the new children, new files land there too.
        _ = try await layer.lookup("d", in: .root, context: Self.context)
        for child in added { #expect(try await child.attributes(of: directory, context: Self.context).type == .directory) }
        for index in 0..<60 {
            let name = "later-\(index)"
            _ = try await Self.makeFile(name, in: directory, on: layer, name)
            let holders = await Self.holder(of: name, in: directory, among: all)
            #expect(holders == [generations[1].child(for: name)], "\(name) on \(holders)")
            if holders.first.map({ $0 >= 2 }) ?? false { onNew += 1 }
        }
        #expect(onNew > 15, "only \(onNew) of 60 new files on the new children")

        // The listing shows every file once.
        var names: [String] = []
        var cookie: UInt64 = 0
        repeat {
            let page = try await layer.readDirectory(directory, after: cookie, countMax: 50, context: Self.context)
            names += page.entries.map(\.name)
            cookie = page.nextCookie ?? 0
        } while cookie != 0
        #expect(names.count == 240 && Set(names).count == 240, "\(names.count) listed")
    }

    @Test("a layer that has not heard of the growth asks for it when a name is found nowhere, and finds it")
    func staleLayerCatchesUp() async throws {
        let old = [MemoryFileSystem(), MemoryFileSystem()]
        let added = [MemoryFileSystem()]
        let history = LayoutHistory(initialChildCount: 2, changes: [.added(1)])
        let grown = try Self.layer(over: old + added, history: history)
        let stale = try Self.layer(over: old)
        let asked = Mutex(0)
        stale.whenStale {
            asked.withLock { $0 += 1 }
            try? stale.grow(adding: added, history: history)  // the test's spec cannot fail to fit
        }
        // A name the grown layer puts on the new child.
        let layout = Layout.generations(history, directory: .root)[1]
        let name = (0..<1000).map { "n-\($0)" }.first { layout.child(for: $0) == 2 } ?? "none"
        _ = try await Self.makeFile(name, in: .root, on: grown, "from the grown client")
        #expect(try await Self.read(name, in: .root, on: stale) == "from the grown client")
        #expect(asked.withLock { $0 } == 1)
        #expect(stale.children.count == 3)
        // A name that exists nowhere still answers ENOENT, after asking.
        await #expect(throws: FileSystemError.self) {
            _ = try await stale.lookup("missing", in: .root, context: Self.context)
        }
    }

    @Test("growing with a history that does not continue the layer's own is refused, and changes nothing")
    func refusesForeignHistory() throws {
        let layer = try Self.layer(over: [MemoryFileSystem(), MemoryFileSystem()])
        let refused: [([MemoryFileSystem], LayoutHistory)] = [
            ([MemoryFileSystem()], LayoutHistory(initialChildCount: 3, changes: [.added(1)])),
            ([MemoryFileSystem()], LayoutHistory(initialChildCount: 2, changes: [.added(2)])),
            ([], LayoutHistory(initialChildCount: 2)),
        ]
        for (children, history) in refused {
            #expect(throws: FileSystemError.self, "\(history)") { try layer.grow(adding: children, history: history) }
        }
        #expect(layer.children.count == 2)
        #expect(throws: FileSystemError.self) {
            _ = try Self.layer(over: [MemoryFileSystem()], history: LayoutHistory(initialChildCount: 1, changes: [.added(1)]))
        }
    }
}
