import Foundation
import CMortarLinux
import Glibc
import MortarBrick
import MortarCore
import MortarPosixStorage
import MortarProtocolClient
import MortarTesting
import MortarTransport
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// Short-circuit local reads: a client connected over a brick's Unix socket reads the files it opened for reading
/// through a read-only descriptor the brick hands over (`grantLocalRead`, claimed on the hand-off socket), and the
/// brick never sees those reads. Everything else is unchanged: who may read, what is read, and reads over the
/// connection wherever a descriptor cannot be had.
@Suite("Short-circuit local reads", .serialized)
struct LocalReadTests {
    /// A brick with a Unix socket and a recording layer over its storage, a client on that socket and one on TCP.
    struct Setup {
        let brick: LoopbackBrick
        let harness: LayerHarness
        let socket: String
        let local: ProtocolClient
        let remote: ProtocolClient
        let context = OperationContext()

        static func start(
            root: String? = nil, readsLocally: Bool = true,
            budget: LocalReadDescriptorBudget = LocalReadDescriptorBudget(capacity: 100)
        ) async throws -> Setup {
            let directory = try root ?? LoopbackBrick.makeTemporaryDirectory("mortar-local")
            let socket = directory + ".sock"
            let harness = Mutex<LayerHarness?>(nil)
            let brick = try await LoopbackBrick.start(root: directory, unixSocket: socket) { storage in
                let layer = LayerHarness(next: storage)
                harness.withLock { $0 = layer }
                return layer
            }
            let local = ProtocolClient(
                endpoint: .unixSocket(path: socket), clientName: "local", security: .insecure,
                eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: OperationContext.silentLogger,
                readsLocally: readsLocally, localDescriptorBudget: budget)
            return Setup(
                brick: brick, harness: harness.withLock { $0! }, socket: socket, local: local,
                remote: brick.makeClient(name: "remote"))
        }

        func makeFile(_ name: String, _ bytes: [UInt8]) async throws -> FileID {
            let created = try await remote.create(
                name, in: .root, id: .random(), permissions: 0o644, flags: .readWrite, context: context)
            var offset = 0
            while offset < bytes.count {
                let piece = min(Limits.ioByteCountMax, bytes.count - offset)
                _ = try await remote.write(
                    ByteBuffer(bytes: bytes[offset..<offset + piece]), to: created.file, at: UInt64(offset),
                    context: context)
                offset += piece
            }
            try await remote.release(created.file, context: context)
            return created.attributes.id
        }

        func read(_ file: OpenFile, at offset: Int, count: Int) async throws -> [UInt8] {
            Array(buffer: try await local.read(from: file, at: UInt64(offset), count: count, context: context))
        }

        func stop(removing: Bool = true) async {
            local.shutdown()
            remote.shutdown()
            await brick.stop()
            if removing { brick.removeDirectory() }
        }
    }

    static func expectCode(
        _ code: FileSystemError.Code, _ body: () async throws -> Void, sourceLocation: SourceLocation = #_sourceLocation
    ) async {
        let error = await #expect(throws: FileSystemError.self, sourceLocation: sourceLocation) { try await body() }
        #expect(error?.code == code, sourceLocation: sourceLocation)
    }

    static func pattern(_ count: Int, seed: Int = 0) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: ($0 &* 31) ^ ($0 >> 9) &+ seed) }
    }

    @Test("reads of a file open for reading are the client's own preads: the brick sees a grant and no read")
    func readsAreServedLocally() async throws {
        let setup = try await Setup.start()
        let content = Self.pattern(300_000)
        let id = try await setup.makeFile("image", content)
        setup.harness.clearRecorded()
        let file = try await setup.local.open(id, flags: .read, context: setup.context)
        #expect(try await setup.read(file, at: 0, count: 4096) == Array(content[0..<4096]))
        #expect(try await setup.read(file, at: 100_000, count: 150_000) == Array(content[100_000..<250_000]))
        #expect(try await setup.read(file, at: 299_990, count: 100) == Array(content[299_990...]), "short at the end")
        #expect(try await setup.read(file, at: 400_000, count: 10).isEmpty, "past the end")
        #expect(setup.harness.count(of: .read) == 0, "reads reached the brick: \(setup.harness.recorded)")
        #expect(setup.harness.count(of: .grantLocalRead) == 1)
        #expect(setup.local.localReadCount == 4)
        // Another client's write is on the brick's file: the next local read has it, with no delay.
        _ = try await {
            let writer = try await setup.remote.open(id, flags: .write, context: setup.context)
            _ = try await setup.remote.write(ByteBuffer(bytes: [1, 2, 3]), to: writer, at: 10, context: setup.context)
            try await setup.remote.release(writer, context: setup.context)
        }()
        #expect(try await setup.read(file, at: 8, count: 7) == [content[8], content[9], 1, 2, 3, content[13], content[14]])
        try await setup.local.release(file, context: setup.context)
        // Releases are posted, not waited for: the brick gets to them soon.
        let deadline = ContinuousClock.now + .seconds(10)
        while setup.brick.stack.storage.openHandleCount > 0, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(setup.brick.stack.storage.openHandleCount == 0)
        await setup.stop()
    }

    @Test("uncached data is read on the client's read threads, or on a blocking caller's own thread, exactly")
    func uncachedAndBlockingReads() async throws {
        let setup = try await Setup.start()
        let content = Self.pattern(3 << 20, seed: 5)
        let id = try await setup.makeFile("cold", content)
        // Out of the page cache, so that the first attempt (which never waits for the disk) finds nothing.
        let onBrick = open(setup.brick.root + "/cold", O_RDONLY)
        #expect(onBrick >= 0)
        fdatasync(onBrick)
        posix_fadvise(onBrick, 0, 0, POSIX_FADV_DONTNEED)
        close(onBrick)
        let file = try await setup.local.open(id, flags: .read, context: setup.context)
        #expect(try await setup.read(file, at: 1 << 20, count: 1 << 20) == Array(content[(1 << 20)..<(2 << 20)]))
        let blocking = try await CallingThread.$mayBlock.withValue(true) {
            try await setup.read(file, at: 2 << 20, count: 1 << 20)
        }
        #expect(blocking == Array(content[(2 << 20)...]))
        #expect(setup.harness.count(of: .read) == 0)
        try await setup.local.release(file, context: setup.context)
        await setup.stop()
    }

    @Test("a brick that refuses grants is asked once per connection; reads go over the connection")
    func refusedGrantsAreNotAskedAgain() async throws {
        let setup = try await Setup.start()
        setup.harness.failNext(.grantLocalRead, count: 100, with: FileSystemError(.notSupported, "no grants here"))
        let content = Self.pattern(10_000)
        var ids: [FileID] = []
        for index in 0..<3 { ids.append(try await setup.makeFile("f\(index)", content)) }
        setup.harness.clearRecorded()
        for id in ids {
            let file = try await setup.local.open(id, flags: .read, context: setup.context)
            #expect(try await setup.read(file, at: 0, count: 10_000) == content)
            #expect(try await setup.read(file, at: 5_000, count: 10) == Array(content[5_000..<5_010]))
            try await setup.local.release(file, context: setup.context)
        }
        #expect(setup.harness.count(of: .grantLocalRead) == 1)
        #expect(setup.harness.count(of: .read) == 6)
        #expect(setup.local.localReadCount == 0)
        await setup.stop()
    }

    @Test("a refusal of one file leaves the others asking")
    func oneFileRefused() async throws {
        let setup = try await Setup.start()
        let content = Self.pattern(1_000)
        let first = try await setup.makeFile("refused", content)
        let second = try await setup.makeFile("granted", content)
        setup.harness.failNext(.grantLocalRead, with: FileSystemError(.invalidArgument, "not a regular file"))
        for id in [first, second] {
            let file = try await setup.local.open(id, flags: .read, context: setup.context)
            #expect(try await setup.read(file, at: 0, count: 1_000) == content)
            #expect(try await setup.read(file, at: 0, count: 1_000) == content)
            try await setup.local.release(file, context: setup.context)
        }
        #expect(setup.harness.count(of: .grantLocalRead) == 2)
        #expect(setup.local.localReadCount == 2, "the second file is read locally after its grant")
        await setup.stop()
    }

    @Test("a process holds at most its budget of descriptors; past it files are read over the connection")
    func descriptorBudget() async throws {
        let budget = LocalReadDescriptorBudget(capacity: 2)
        let setup = try await Setup.start(budget: budget)
        let content = Self.pattern(5_000)
        var files: [OpenFile] = []
        for index in 0..<3 {
            let id = try await setup.makeFile("f\(index)", content)
            files.append(try await setup.local.open(id, flags: .read, context: setup.context))
        }
        setup.harness.clearRecorded()
        for file in files { #expect(try await setup.read(file, at: 0, count: 5_000) == content) }
        #expect(setup.harness.count(of: .grantLocalRead) == 2)
        #expect(setup.harness.count(of: .read) == 1, "the third file is read over the connection")
        #expect(budget.heldCount == 2)
        try await setup.local.release(files[0], context: setup.context)
        #expect(budget.heldCount == 1, "a released file's descriptor closes and its place goes back")
        #expect(try await setup.read(files[2], at: 100, count: 10) == Array(content[100..<110]))
        #expect(setup.harness.count(of: .grantLocalRead) == 3, "the third file asks again once there is room")
        #expect(budget.heldCount == 2)
        for file in files.dropFirst() { try await setup.local.release(file, context: setup.context) }
        #expect(budget.heldCount == 0)
        await setup.stop()
    }

    @Test("local reads off, a file open only for writing, a TCP client: nobody asks for a descriptor")
    func whoDoesNotAsk() async throws {
        let setup = try await Setup.start(readsLocally: false)
        let id = try await setup.makeFile("plain", Self.pattern(100))
        setup.harness.clearRecorded()
        let file = try await setup.local.open(id, flags: .read, context: setup.context)
        #expect(try await setup.read(file, at: 0, count: 100) == Self.pattern(100))
        try await setup.local.release(file, context: setup.context)
        let tcp = try await setup.remote.open(id, flags: .read, context: setup.context)
        _ = try await setup.remote.read(from: tcp, at: 0, count: 100, context: setup.context)
        try await setup.remote.release(tcp, context: setup.context)
        #expect(setup.harness.count(of: .grantLocalRead) == 0)
        #expect(setup.harness.count(of: .read) == 2)
        await setup.stop()

        let withLocalReads = try await Setup.start()
        let other = try await withLocalReads.makeFile("written", Self.pattern(100))
        withLocalReads.harness.clearRecorded()
        let writeOnly = try await withLocalReads.local.open(other, flags: .write, context: withLocalReads.context)
        await #expect(throws: FileSystemError.self) {
            _ = try await withLocalReads.read(writeOnly, at: 0, count: 10)
        }
        #expect(withLocalReads.harness.count(of: .grantLocalRead) == 0)
        try await withLocalReads.local.release(writeOnly, context: withLocalReads.context)
        await withLocalReads.stop()
    }

    /// Local reads last only while the brick does: the first read after it went away goes over the connection
    /// (which reconnects to the restarted brick and reopens the file), and the file is then granted by the new
    /// brick.
    @Test("after the brick restarts, the reopened file is granted again by the new brick")
    func brickRestart() async throws {
        let first = try await Setup.start()
        let content = Self.pattern(50_000)
        let id = try await first.makeFile("kept", content)
        let file = try await first.local.open(id, flags: .read, context: first.context)
        #expect(try await first.read(file, at: 0, count: 1000) == Array(content[..<1000]))
        #expect(first.harness.count(of: .grantLocalRead) == 1)
        first.remote.shutdown()
        await first.brick.stop()
        // Until the client has read the brick's close, a read may still go through the descriptor (the same file,
        // a moment after it was readable); what is tested is every read after that.
        let noticed = ContinuousClock.now + .seconds(30)
        while first.local.isConnected {
            try #require(ContinuousClock.now < noticed, "the client never saw the stopped brick close its connection")
            try await Task.sleep(for: .milliseconds(5))
        }
        let started = ContinuousClock.now
        let harness = Mutex<LayerHarness?>(nil)
        let second = try await LoopbackBrick.start(root: first.brick.root, unixSocket: first.socket) { storage in
            let layer = LayerHarness(next: storage)
            harness.withLock { $0 = layer }
            return layer
        }
        #expect(try await first.read(file, at: 20_000, count: 10) == Array(content[20_000..<20_010]), "reconnecting")
        #expect(try await first.read(file, at: 40_000, count: 10_000) == Array(content[40_000...]))
        print("reconnected and read after the brick restarted in \(ContinuousClock.now - started)")
        let recorded = harness.withLock { $0!.recorded }
        #expect(recorded.filter { $0 == .read }.count == 1, "only the reconnecting read reached the new brick: \(recorded)")
        #expect(recorded.filter { $0 == .grantLocalRead }.count == 1, "the new brick saw \(recorded)")
        try await first.local.release(file, context: first.context)
        first.local.shutdown()
        await second.stop()
        second.removeDirectory()
    }

    @Test("the storage grants a read-only descriptor of its own, once, within its lifetime and bound")
    func storageGrants() async throws {
        let root = try LoopbackBrick.makeTemporaryDirectory("mortar-grants")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let grants = LocalReadGrants(capacity: 2)
        let storage = try await PosixStorage.prepare(
            root: root, threadPool: .singleton, logger: OperationContext.silentLogger, localReads: grants)
        let context = OperationContext()
        let created = try await storage.create(
            "f", in: .root, id: .random(), permissions: 0o600, flags: .readWrite, context: context)
        _ = try await storage.write(ByteBuffer(string: "granted bytes"), to: created.file, at: 0, context: context)
        let grant = try await storage.grantLocalRead(of: created.file, context: context)
        let descriptor = try #require(grants.claim(grant.token))
        defer { close(descriptor) }
        var bytes = [UInt8](repeating: 0, count: 32)
        #expect(pread(descriptor, &bytes, 32, 0) == 13)
        #expect(String(decoding: bytes.prefix(13), as: UTF8.self) == "granted bytes")
        #expect(pwrite(descriptor, "x", 1, 0) == -1 && errno == EBADF, "a granted descriptor cannot write")
        // Its own open file description: flags set on it do not reach the brick's descriptor.
        #expect(fcntl(descriptor, F_SETFL, O_NONBLOCK) == 0)
        #expect(try await storage.read(from: created.file, at: 0, count: 7, context: context).readableBytes == 7)
        #expect(grants.claim(grant.token) == nil, "a token works once")
        _ = try await storage.grantLocalRead(of: created.file, context: context)
        _ = try await storage.grantLocalRead(of: created.file, context: context)
        await Self.expectCode(.wouldBlock) {
            _ = try await storage.grantLocalRead(of: created.file, context: context)
        }
        #expect(grants.waitingCount == 2)
        let directory = try await storage.open(.root, flags: .read, context: context)
        await Self.expectCode(.invalidArgument) {
            _ = try await storage.grantLocalRead(of: directory, context: context)
        }
        try await storage.release(directory, context: context)
        try await storage.release(created.file, context: context)

        let expiring = LocalReadGrants(lifetime: .zero)
        let other = try await PosixStorage.prepare(
            root: root, threadPool: .singleton, logger: OperationContext.silentLogger, localReads: expiring)
        let reopened = try await other.open(created.attributes.id, flags: .read, context: context)
        let late = try await other.grantLocalRead(of: reopened, context: context)
        #expect(expiring.claim(late.token) == nil, "an expired grant is not handed over")
        #expect(expiring.waitingCount == 0)
        let without = try await PosixStorage.prepare(
            root: root, threadPool: .singleton, logger: OperationContext.silentLogger)
        let plain = try await without.open(created.attributes.id, flags: .read, context: context)
        await Self.expectCode(.notSupported) {
            _ = try await without.grantLocalRead(of: plain, context: context)
        }
    }

    @Test("the hand-off socket hands over what was offered, refuses the rest, and outlasts a silent client")
    func handoffSocket() async throws {
        let root = try LoopbackBrick.makeTemporaryDirectory("mortar-handoff")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let path = root + "/handoff"
        let readable = open("/etc/hostname", O_RDONLY | O_CLOEXEC)
        let writable = open(root + "/w", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        let offers = Mutex<[UInt128: Int32]>([1: readable, 2: writable])
        let server = try DescriptorHandoffServer(path: path, mode: 0o600, logger: OperationContext.silentLogger) { token in
            offers.withLock { $0.removeValue(forKey: token) }
        }
        try await withThrowingTaskGroup { group in
            group.addTask { try await server.run() }
            let received = try await NIOThreadPool.singleton.runIfActive {
                try DescriptorHandoff.claim(LocalReadGrant(token: 1), at: path)
            }
            var status = stat()
            #expect(fstat(received, &status) == 0 && status.st_mode & S_IFMT == S_IFREG)
            close(received)
            await Self.expectCode(.permissionDenied) {
                _ = try await NIOThreadPool.singleton.runIfActive {
                    try DescriptorHandoff.claim(LocalReadGrant(token: 1), at: path)
                }
            }
            await Self.expectCode(.protocolError) {
                _ = try await NIOThreadPool.singleton.runIfActive {
                    try DescriptorHandoff.claim(LocalReadGrant(token: 2), at: path)
                }
            }
            // A client that connects and says nothing holds the server for at most its timeout.
            let silent = cmortar_unix_connect(path, 5_000)
            #expect(silent >= 0)
            defer { close(silent) }
            offers.withLock { $0[3] = open("/etc/hostname", O_RDONLY | O_CLOEXEC) }
            let started = ContinuousClock.now
            let next = try await NIOThreadPool.singleton.runIfActive {
                try DescriptorHandoff.claim(LocalReadGrant(token: 3), at: path)
            }
            close(next)
            let waited = ContinuousClock.now - started
            print("a claim behind a silent client took \(waited)")
            #expect(waited < .seconds(10))
            group.cancelAll()
        }
        #expect(access(path, F_OK) != 0, "the socket file goes with the server")
    }
}
