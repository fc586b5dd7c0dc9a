import Logging
import MortarCore
import MortarDistribute
import MortarTesting
import MortarVolumeSpec
import NIOCore
import Synchronization
import Testing

/// A child that answers a rebalance's fence as a brick's server does, in the small: it counts the opens of the
/// layers above it that are not the mover, refuses their opens of a fenced file (`refusals` times at most, to
/// model a fence lifted meanwhile), and records what was fenced.
final class FencingChild: Layer, Sendable {
    let next: any FileOperations
    private let fenced = Mutex<Set<FileID>>([])
    let opensRefused = Atomic<Int>(0)
    /// Opens that answer EINPROGRESS whatever is fenced, to make a client wait (then they pass).
    let refusals = Atomic<Int>(0)
    /// Files a test holds open elsewhere: a fence of them reports one open.
    let heldOpen = Mutex<Set<FileID>>([])

    /// Run after every create this child answers, with the created name (a test looks at the volume then).
    let afterCreate = Mutex<(@Sendable (String) async -> Void)?>(nil)

    init(_ next: any FileOperations) { self.next = next }

    func create(
        _ name: String, in parent: FileID, id: FileID, permissions: UInt32, flags: OpenFlags, context: OperationContext
    ) async throws -> CreatedFile {
        let created = try await next.create(name, in: parent, id: id, permissions: permissions, flags: flags, context: context)
        if let hook = afterCreate.withLock({ $0 }) { await hook(name) }
        return created
    }

    func control(_ request: ControlRequest, context: OperationContext) async throws -> ControlReply {
        switch request {
        case .fence(let file):
            fenced.withLock { _ = $0.insert(file) }
            return .fenced(openElsewhere: heldOpen.withLock { $0.contains(file) } ? 1 : 0)
        case .unfence(let file):
            fenced.withLock { _ = $0.remove(file) }
            return .done
        default:
            return try await next.control(request, context: context)
        }
    }

    func open(_ file: FileID, flags: OpenFlags, context: OperationContext) async throws -> OpenFile {
        // The mover identifies itself with process ID 1 here (a brick tells connections apart).
        if context.processID != 1, refusals.load(ordering: .relaxed) > 0 {
            refusals.subtract(1, ordering: .relaxed)
            opensRefused.add(1, ordering: .relaxed)
            throw FileSystemError(.beingMoved, "file \(file) is being moved")
        }
        return try await next.open(file, flags: flags, context: context)
    }

    var isFencing: Bool { !fenced.withLock { $0.isEmpty } }
}

@Suite("Migration")
struct MigrationTests {
    static let client = OperationContext()
    static let mover = OperationContext(processID: 1)

    /// Two children grown to four, each wrapped in a ``FencingChild``; `count` files of a few hundred bytes in
    /// directory `d`, written before the growth.
    static func grown(files count: Int) async throws -> (layer: Distribute, children: [FencingChild], directory: FileID) {
        let children = (0..<4).map { _ in FencingChild(MemoryFileSystem()) }
        let layer = try Distribute(
            children: Array(children[0..<2]), options: DistributeOptions(lookupEverywhere: false),
            logger: Logger(label: "test.migration"))
        let directory = FileID.random()
        _ = try await layer.makeDirectory("d", in: .root, id: directory, permissions: 0o755, context: client)
        for index in 0..<count {
            _ = try await DistributeGrowthTests.makeFile("f\(index)", in: directory, on: layer, content(index))
        }
        try layer.grow(adding: Array(children[2...]), history: LayoutHistory(initialChildCount: 2, changes: [.added(2)]))
        _ = try await layer.lookup("d", in: .root, context: client)  // makes d on the new children
        return (layer, children, directory)
    }

    static func content(_ index: Int) -> String { String(repeating: "\(index);", count: 20 + index % 50) }

    /// A second client of the same children, built with the grown layout.
    static func secondClient(_ children: [FencingChild]) throws -> Distribute {
        try Distribute(
            children: children,
            options: DistributeOptions(lookupEverywhere: false, layout: LayoutHistory(initialChildCount: 2, changes: [.added(2)])),
            logger: Logger(label: "test.migration.other"))
    }

    static func holders(_ name: String, in directory: FileID, _ children: [FencingChild]) async -> [Int] {
        var found: [Int] = []
        for (index, child) in children.enumerated() {
            if (try? await child.lookup(name, in: directory, context: client)) != nil { found.append(index) }
        }
        return found
    }

    @Test("the cursor orders paths depth first, names by their bytes")
    func cursorOrder() {
        let none = RebalanceProgress()
        #expect(none.isAfterCursor(["a"]) && none.isAfterCursor(["a", "b"]) && !none.isOnCursorPath([]))
        let progress = RebalanceProgress(cursor: ["b", "m"])
        #expect(progress.isOnCursorPath([]) && progress.isOnCursorPath(["b"]) && !progress.isOnCursorPath(["b", "m"]))
        #expect(!progress.isAfterCursor(["a"]) && !progress.isAfterCursor(["a", "z"]) && !progress.isAfterCursor(["b"]))
        #expect(!progress.isAfterCursor(["b", "l"]) && !progress.isAfterCursor(["b", "m"]) && !progress.isAfterCursor(["b", "m", "x"]))
        #expect(progress.isAfterCursor(["b", "n"]) && progress.isAfterCursor(["c"]) && progress.isAfterCursor(["b", "mm"]))
        // Bytes, not Unicode order or case folding: "B" (0x42) comes before "a" (0x61), "é" after "z".
        #expect(RebalanceProgress(cursor: ["a"]).isAfterCursor(["é"]) && !RebalanceProgress(cursor: ["a"]).isAfterCursor(["B"]))
    }

    /// The generations of `directory`'s layout after the growth, and the first of its 60 files the newest one
    /// places on a new child.
    static func fileDueToMove(in directory: FileID) throws -> (generations: [Layout], index: Int) {
        let generations = Layout.generations(LayoutHistory(initialChildCount: 2, changes: [.added(2)]), directory: directory)
        let index = try #require((0..<60).first { generations[1].child(for: "f\($0)") >= 2 }, "no file hashes to a new child")
        return (generations, index)
    }

    @Test("a moved file keeps its content, attributes and identity, and leaves nothing behind")
    func movesOneFile() async throws {
        let (layer, children, directory) = try await Self.grown(files: 60)
        let (generations, index) = try Self.fileDueToMove(in: directory)
        let name = "f\(index)"
        let before = try await layer.lookup(name, in: directory, context: Self.client)
        try await layer.setExtendedAttribute("user.kept", to: [1, 2, 3], mode: .createOrReplace, of: before.id, context: Self.client)
        let outcome = await layer.migrate(name, in: directory, context: Self.mover)
        #expect(outcome == .moved(bytes: before.size), "\(outcome)")
        #expect(await Self.holders(name, in: directory, children) == [generations[1].child(for: name)])
        #expect(!children.contains { $0.isFencing }, "a fence was left")
        let after = try await layer.lookup(name, in: directory, context: Self.client)
        #expect(after.id == before.id && after.size == before.size && after.permissions == before.permissions)
        #expect(after.modificationTime == before.modificationTime)
        #expect(try await layer.extendedAttribute("user.kept", of: after.id, context: Self.client) == [1, 2, 3])
        #expect(try await DistributeGrowthTests.read(name, in: directory, on: layer) == Self.content(index))
        #expect(await layer.migrate(name, in: directory, context: Self.mover) == .inPlace)
    }

    /// The moment the copy is made on the target, another client looking the name up or listing the directory
    /// sees the file as it is on its holder: never an empty or partial copy, never twice.
    @Test("a copy in the making is never seen by lookups or listings")
    func copiesInTheMakingAreInvisible() async throws {
        let (layer, children, directory) = try await Self.grown(files: 60)
        let other = try Self.secondClient(children)
        let (generations, index) = try Self.fileDueToMove(in: directory)
        let name = "f\(index)"
        let size = try await layer.lookup(name, in: directory, context: Self.client).size
        let seen = Mutex<[String]>([])
        children[generations[1].child(for: name)].afterCreate.withLock {
            $0 = { created in
                do {
                    let found = try await other.lookup(name, in: directory, context: Self.client)
                    let page = try await other.readDirectory(directory, after: 0, countMax: 1000, context: Self.client)
                    let listed = page.entries.filter { $0.name == name }
                    let hidden = page.entries.filter { $0.name.hasPrefix(Distribute.movingPrefix) }
                    seen.withLock {
                        $0.append("created \(created): lookup size \(found.size), listed \(listed.map(\.attributes.size)), hidden listed \(hidden.count)")
                    }
                    #expect(found.size == size && listed.map(\.attributes.size) == [size] && hidden.isEmpty)
                } catch {
                    Issue.record("while the copy was made: \(error)")
                }
            }
        }
        #expect(await layer.migrate(name, in: directory, context: Self.mover) == .moved(bytes: size))
        #expect(!seen.withLock { $0.isEmpty }, "the copy was never made")
        // Names of copies in the making are the rebalance's: clients can neither make nor find them.
        await #expect(throws: FileSystemError.self) {
            _ = try await other.create(
                Distribute.movingPrefix + "x", in: directory, id: .random(), permissions: 0o644,
                flags: [.readWrite, .create], context: Self.client)
        }
    }

    @Test("a file open elsewhere is left where it is, with no copy left on the target")
    func leavesAnOpenFile() async throws {
        let (layer, children, directory) = try await Self.grown(files: 60)
        let (generations, index) = try Self.fileDueToMove(in: directory)
        let name = "f\(index)"
        let found = try await layer.lookup(name, in: directory, context: Self.client)
        let holder = generations[0].child(for: name)
        children[holder].heldOpen.withLock { _ = $0.insert(found.id) }
        guard case .skippedForNow = await layer.migrate(name, in: directory, context: Self.mover) else {
            Issue.record("an open file was moved")
            return
        }
        #expect(await Self.holders(name, in: directory, children) == [holder])
        #expect(!children.contains { $0.isFencing })
    }

    /// A file open while the crawl passes it is tried again once the crawl is done: closed by then, it moves, and
    /// the counts say moved, not skipped.
    @Test("a file closed after the crawl passed it moves in the run's retries")
    func retriesWhatWasOpen() async throws {
        let (layer, children, directory) = try await Self.grown(files: 60)
        let (generations, index) = try Self.fileDueToMove(in: directory)
        let name = "f\(index)"
        let found = try await layer.lookup(name, in: directory, context: Self.client)
        let holder = children[generations[0].child(for: name)]
        holder.heldOpen.withLock { _ = $0.insert(found.id) }
        let crawled = Atomic<Bool>(false)
        let rebalance = Rebalance(
            distribute: layer, from: RebalanceProgress(), throttle: .normal, context: Self.mover, reportEvery: .zero
        ) { progress in
            // The file is closed once the crawl has counted it skipped.
            if progress.counters.skippedFiles > 0, !crawled.exchange(true, ordering: .relaxed) {
                holder.heldOpen.withLock { _ = $0.remove(found.id) }
            }
        }
        let final = try await rebalance.run()
        let wasSkipped = crawled.load(ordering: .relaxed)
        #expect(wasSkipped, "the open file was never skipped")
        #expect(final.counters.skippedFiles == 0 && final.counters.failedFiles == 0, "\(final.counters)")
        #expect(await Self.holders(name, in: directory, children) == [generations[1].child(for: name)])
    }

    @Test("a client that remembers where a file was follows it after the move, and waits out a fence")
    func clientsFollowMoves() async throws {
        let (layer, children, directory) = try await Self.grown(files: 80)
        let other = try Self.secondClient(children)
        // The other client learns where every file is, by FileID, before they move.
        var ids: [Int: FileID] = [:]
        for index in 0..<80 {
            let found = try await other.lookup("f\(index)", in: directory, context: Self.client)
            ids[index] = found.id
            _ = try await other.attributes(of: found.id, context: Self.client)
        }
        var moved = 0
        for index in 0..<80 {
            if case .moved = await layer.migrate("f\(index)", in: directory, context: Self.mover) { moved += 1 }
        }
        #expect(moved > 20, "only \(moved) of 80 moved")
        // Opens by FileID alone, with the old placements remembered: each finds its file where it went.
        for child in children { child.refusals.store(2, ordering: .relaxed) }
        for index in 0..<80 {
            guard let id = ids[index] else { continue }
            let file = try await other.open(id, flags: .read, context: Self.client)
            let data = try await other.read(from: file, at: 0, count: 4096, context: Self.client)
            try await other.release(file, context: Self.client)
            #expect(String(buffer: data) == Self.content(index))
            _ = try await other.setAttributes(AttributeChanges(permissions: 0o600), of: id, context: Self.client)
        }
        #expect(children.map { $0.opensRefused.load(ordering: .relaxed) }.reduce(0, +) > 0, "no open was made to wait")
    }

    /// A rebalance interrupted at a random batch (its report throws) and resumed from the progress it stored,
    /// several times: in the end every file is on its newest-generation child, once, and nothing was scanned twice
    /// beyond the batches in flight when it stopped.
    @Test("an interrupted rebalance resumes where it stopped", arguments: [1, 2, 3, 4, 5])
    func resumesAfterInterruptions(seed: UInt64) async throws {
        var random = SplitMix64(seed: seed)
        let count = 150
        let (layer, children, directory) = try await Self.grown(files: count)
        for sub in 0..<3 {
            let id = FileID.random()
            _ = try await layer.makeDirectory("s\(sub)", in: directory, id: id, permissions: 0o755, context: Self.client)
            for index in 0..<20 { _ = try await DistributeGrowthTests.makeFile("g\(index)", in: id, on: layer, "g\(index)") }
        }
        let stored = Mutex(RebalanceProgress())
        var interruptions = 0
        for _ in 0..<100 {
            // Each run reports after every batch; after a random number of reports one is lost (the run dies
            // before storing it), so the next run redoes the batch since the last stored report.
            let reportsLeft = Atomic<Int>(Int(random.next() % 8))
            let rebalance = Rebalance(
                distribute: layer, from: stored.withLock { $0 }, throttle: .aggressive, context: Self.mover,
                reportEvery: .zero
            ) { progress in
                if reportsLeft.subtract(1, ordering: .relaxed).newValue < 0 { throw CancellationError() }
                stored.withLock { $0 = progress }
            }
            do {
                let final = try await rebalance.run()
                stored.withLock { $0 = final }
                break
            } catch is CancellationError {
                interruptions += 1
            }
        }
        #expect(interruptions > 0 && interruptions < 100, "\(interruptions) interruptions")
        let counters = stored.withLock { $0.counters }
        #expect(counters.scannedFiles >= UInt64(count + 60) && counters.scannedFiles <= UInt64(count + 60 + 4 * interruptions),
                "scanned \(counters.scannedFiles) after \(interruptions) interruptions")
        #expect(counters.failedFiles == 0 && counters.skippedFiles == 0, "\(counters)")
        let generations = Layout.generations(LayoutHistory(initialChildCount: 2, changes: [.added(2)]), directory: directory)
        for index in 0..<count {
            #expect(await Self.holders("f\(index)", in: directory, children) == [generations[1].child(for: "f\(index)")])
        }
    }
}
