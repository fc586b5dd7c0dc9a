import Logging
import MortarCore
import MortarSecurity
import MortarTransport
import MortarWire
import Synchronization

/// One client connection's view of a brick: it runs requests against the brick's stack, remembers which open
/// files belong to the connection, refuses handles that belong to other connections, and on close releases the
/// connection's files and locks, so a client that vanishes leaves nothing behind.
final class BrickSession: RequestSession {
    private let stack: any FileOperations
    private let locks: LockLayer
    private let connectionID: UInt64
    /// Files a client connection may hold open; see ``checkRoomForAnotherFile(_:)``.
    private let openFilesMax: Int
    private let policy: ServerPolicy
    /// Who the client is (nil without TLS), and whether it may use the roles only bricks use (forwarded, heal):
    /// a cluster host, root on the Unix socket, or anyone when the brick runs without TLS.
    private let peer: PeerIdentity?
    private let trustsClaimedRoles: Bool
    /// Why requests in the client role are refused on this connection (root on the Unix socket, whom the volume's
    /// address lists refuse, may still forward and heal as the host's bricks do); nil when they are served.
    private let clientRefusal: FileSystemError?
    private let logger: Logger
    private let handles = Mutex(Handles())
    /// The brick's open files and rebalance fences, shared by all its connections.
    private let fences: MigrationFences
    /// What the brick counts of its requests; nil where nobody reads them (tests).
    private let metrics: BrickMetrics?
    /// `volume profile` and `top`, and the brick's list of connections; nil in tests that do not ask.
    private let profiler: BrickProfiler?
    private let clients: ClientTable?
    /// What `volume status VOL clients` shows of this connection.
    private let location: String
    private let clientName: String
    private let connectedAt = ContinuousClock.now
    private let requestCount = Atomic<UInt64>(0)
    private let bytesRead = Atomic<UInt64>(0)
    private let bytesWritten = Atomic<UInt64>(0)

    /// The connection's files: open, or with a release read from the client and not yet performed. A release
    /// leaves ``open`` when it arrives (``received(_:)``), so the open the client sent after it finds room even
    /// while the release is still running: clients do not wait for a release's reply.
    private struct Handles {
        var open: [UInt64: OpenFile] = [:]
        var releasing: [UInt64: OpenFile] = [:]
    }

    init(
        stack: any FileOperations, locks: LockLayer, connectionID: UInt64, openFilesMax: Int, policy: ServerPolicy,
        peer: PeerIdentity?, trustsClaimedRoles: Bool, clientRefusal: FileSystemError? = nil,
        metrics: BrickMetrics? = nil, profiler: BrickProfiler? = nil, clients: ClientTable? = nil,
        location: String = "local", clientName: String = "", fences: MigrationFences = MigrationFences(),
        logger: Logger
    ) {
        self.fences = fences
        self.metrics = metrics
        self.profiler = profiler
        self.clients = clients
        self.location = location
        self.clientName = clientName
        metrics?.connection(+1)
        self.peer = peer
        self.clientRefusal = clientRefusal
        self.trustsClaimedRoles = trustsClaimedRoles
        self.stack = stack
        self.locks = locks
        self.connectionID = connectionID
        self.openFilesMax = openFilesMax
        self.policy = policy
        self.logger = logger
    }

    func received(_ request: Request) {
        guard case .release(let file) = request else { return }
        handles.withLock { handles in
            guard let owned = handles.open[file.handle], owned.id == file.id else { return }  // refused when run
            handles.open[file.handle] = nil
            handles.releasing[file.handle] = owned
        }
    }

    func handle(_ request: Request, context: OperationContext) async throws -> Reply {
        // The daemon's questions about the brick are not counted: each would show itself in its own answer.
        if request.isDiagnosticsRequest { return try await serve(request, context: context) }
        requestCount.add(1, ordering: .relaxed)
        let profiling = profiler?.isProfiling == true
        let started = metrics?.started() ?? (profiling ? ContinuousClock.now : nil)
        do {
            let reply = try await serve(request, context: context)
            account(request, started: started, profiling: profiling, reply: reply, error: nil)
            return reply
        } catch {
            account(request, started: started, profiling: profiling, reply: nil, error: error)
            throw error
        }
    }

    private func account(
        _ request: Request, started: ContinuousClock.Instant?, profiling: Bool, reply: Reply?, error: (any Error)?
    ) {
        let moved = request.bytesMoved(reply: reply)
        if moved.read > 0 { bytesRead.add(UInt64(moved.read), ordering: .relaxed) }
        if moved.written > 0 { bytesWritten.add(UInt64(moved.written), ordering: .relaxed) }
        guard let started else { return }
        metrics?.finished(request, started: started, moved: moved, error: error)
        if profiling {
            profiler?.record(request, reply: reply, failed: error != nil, elapsed: ContinuousClock.now - started)
        }
    }

    /// This connection as `volume status VOL clients` lists it.
    var client: ConnectedClient {
        ConnectedClient(
            address: location, name: clientName, certificate: peer?.name,
            openFiles: UInt64(handles.withLock { $0.open.count }), requests: requestCount.load(ordering: .relaxed),
            bytesRead: bytesRead.load(ordering: .relaxed), bytesWritten: bytesWritten.load(ordering: .relaxed),
            connectedSeconds: UInt64(clamping: (ContinuousClock.now - connectedAt).components.seconds))
    }

    private func serve(_ request: Request, context given: OperationContext) async throws -> Reply {
        guard given.replication.role == .client || trustsClaimedRoles else {
            throw FileSystemError(
                .permissionDenied,
                "the \(given.replication.role) role is for cluster hosts; \(peer.map { "certificate \($0)" } ?? "this client") may not use it")
        }
        if case .control(let control) = request, !trustsClaimedRoles {
            throw FileSystemError(
                .permissionDenied,
                "a \(control.name) is for cluster hosts; \(peer.map { "certificate \($0)" } ?? "this client") may not send one")
        }
        if case .control(let control) = request, let answer = try await diagnostics(control) { return answer }
        if case .control(let control) = request, let answer = try migration(control) { return answer }
        if given.replication.role == .client, let clientRefusal { throw clientRefusal }
        // A cluster host (the daemon's rebalance) acts for the cluster, not for a user: its root is not squashed.
        // It could claim the forwarded role, which is not squashed either, so this opens nothing new.
        let context = peer?.role == .host ? given : policy.context(for: given)
        if case .release(let file) = request {
            try checkOwnership(file, releasing: true)
            // Gone from the connection whether or not the storage's release succeeds: the client has let go of it.
            defer {
                _ = handles.withLock { $0.releasing.removeValue(forKey: file.handle) }
                fences.closed(file.id, by: connectionID)
            }
            return try await request.perform(on: stack, context: context)
        }
        if let file = request.openFile { try checkOwnership(file, releasing: false) }
        if case .create = request { try checkRoomForAnotherFile(context) }
        if case .open = request { try checkRoomForAnotherFile(context) }
        if case .openAndRead = request { try checkRoomForAnotherFile(context) }
        if case .lookupAndRead = request { try checkRoomForAnotherFile(context) }
        // Only clients' requests: what a primary forwards or a heal copies was ordered where it entered.
        if fences.isActive, context.replication.role == .client { try await checkFences(request, context: context) }
        let reply = try await request.perform(on: stack, context: context)
        switch (request, reply) {
        case (.create, .created(let created)):
            try await own(created.file, context: context)
        case (.open, .opened(let file)):
            try await own(file, context: context)
        case (.openAndRead, .openedWithHead(let opened)):
            try await own(opened.file, context: context)
        case (.lookupAndRead, .found(let found)):
            guard let opened = found.opened else { break }
            do {
                try await own(opened.file, context: context)
            } catch let error as FileSystemError where error.code == .beingMoved {
                // The lookup stands; the client opens the usual way, and waits for the move there.
                return .found(FoundFile(attributes: found.attributes, opened: nil))
            }
        default:
            break
        }
        return reply
    }

    /// Makes a file the storage just opened this connection's, unless a rebalance fences it: then it is released
    /// again and the client gets EINPROGRESS (it waits and asks where the file lives).
    private func own(_ file: OpenFile, context: OperationContext) async throws {
        guard context.replication.role == .client else {
            // A member's forwarded copy of a client's open: the primary counted the client's.
            handles.withLock { $0.open[file.handle] = file }
            return
        }
        do {
            try fences.opened(file.id, by: connectionID)
        } catch {
            do {
                try await stack.release(file, context: context)
            } catch let releaseError {
                logger.warning("could not release fenced file \(file.id) after refusing its open: \(releaseError)")
            }
            throw error
        }
        handles.withLock { $0.open[file.handle] = file }
    }

    /// While a rebalance fences files: refuses, with EINPROGRESS, a change to a fenced file from any other
    /// connection — by FileID, or by a name that a lookup finds is the fenced file (an unlink, a rename from or
    /// over it). Opens are checked again when they are counted (``own(_:context:)``), under the fence's lock.
    private func checkFences(_ request: Request, context: OperationContext) async throws {
        switch request {
        case .open(let file, _), .openAndRead(let file, _, _), .setAttributes(_, let file),
            .setExtendedAttribute(_, _, _, let file), .removeExtendedAttribute(_, let file), .link(let file, _, _):
            try fences.check(file, for: connectionID)
        case .unlink(let name, let parent):
            try await checkFenced(name, in: parent, context: context)
        case .rename(let name, let parent, let newName, let newParent, _):
            try await checkFenced(name, in: parent, context: context)
            try await checkFenced(newName, in: newParent, context: context)
        case .lookup, .attributes, .attributesOfOpen, .checkAccess, .create, .lookupAndRead, .release, .read,
            .grantLocalRead, .write, .truncate, .synchronize, .flush, .allocate, .discard, .zeroFill, .seek, .lock,
            .testLock, .makeDirectory, .removeDirectory, .readDirectory, .makeSymbolicLink, .readSymbolicLink,
            .makeNode, .fileSystemStatistics, .extendedAttribute, .extendedAttributeNames, .control:
            // Reads change nothing; an open file's operations act on a file counted as open, which a rebalance
            // does not move; creates and opens are checked when counted.
            break
        }
    }

    private func checkFenced(_ name: String, in parent: FileID, context: OperationContext) async throws {
        // Only ENOENT means there is nothing to protect; any other failure to look is the request's own to meet.
        guard let found = try await FileSystemError.nilIfNotFound({
            try await stack.lookup(name, in: parent, context: context)
        }) else { return }
        try fences.check(found.id, for: connectionID)
    }

    /// A rebalance's fence and its lifting; nil for any other control message.
    private func migration(_ control: ControlRequest) throws -> Reply? {
        switch control {
        case .fence(let file):
            return Reply(ControlReply.fenced(openElsewhere: try fences.fence(file, by: connectionID)))
        case .unfence(let file):
            fences.unfence(file, by: connectionID)
            return Reply(ControlReply.done)
        case .heal, .recordMissed, .reconcile, .settleBarrier, .installView, .memberStatus, .metrics, .profile, .top,
            .clients:
            return nil
        }
    }

    /// The brick process's answers about itself (metrics, profile, top, connections), not its stack's; nil for
    /// any other control message.
    private func diagnostics(_ control: ControlRequest) async throws -> Reply? {
        switch control {
        case .metrics:
            let text = metrics?.exposition() ?? ""
            // A reply carries at most a frame; the daemon counts the failed scrape and says so.
            guard text.utf8.count <= Limits.ioByteCountMax else {
                throw FileSystemError(
                    .fileTooLarge, "the brick's metrics take \(text.utf8.count) bytes, more than the \(Limits.ioByteCountMax) a reply carries")
            }
            return Reply(ControlReply.metrics(text))
        case .profile:
            return Reply(ControlReply.profile(profiler?.profile() ?? BrickProfile(profiling: false)))
        case .top(let kind, let count):
            return Reply(ControlReply.top(await profiler?.top(kind, count: count) ?? BrickTop(profiling: false, entries: [])))
        case .clients:
            return Reply(ControlReply.clients(clients?.report(excluding: connectionID) ?? BrickClients(total: 0, clients: [])))
        case .heal, .recordMissed, .reconcile, .settleBarrier, .installView, .memberStatus, .fence, .unfence:
            return nil
        }
    }

    func close() async {
        fences.connectionClosed(connectionID)
        clients?.remove(connectionID)
        metrics?.connection(-1)
        locks.releaseLocks(ofConnection: connectionID)
        let files = handles.withLock { handles in
            defer { handles = Handles() }
            return Array(handles.open.values) + Array(handles.releasing.values)
        }
        let context = OperationContext(connectionID: connectionID, logger: logger)
        for file in files {
            do {
                try await stack.release(file, context: context)
            } catch {
                logger.warning("could not release file \(file.id) of a closed connection: \(error)")
            }
        }
        if !files.isEmpty { logger.debug("released \(files.count) files of a closed connection") }
    }

    /// The file must be this connection's: open, or (for the release that was read) being released.
    private func checkOwnership(_ file: OpenFile, releasing: Bool) throws {
        let owned = handles.withLock { releasing ? $0.releasing[file.handle] : $0.open[file.handle] }
        guard let owned, owned.id == file.id else {
            throw FileSystemError(.badFileHandle, "file handle \(file.handle) is not open on this connection")
        }
    }

    /// A client connection may hold at most ``openFilesMax`` files, so one client cannot take the brick's whole
    /// budget. A primary's connection to another member carries the files all of its clients opened, so changes
    /// it forwards are bounded by the brick's own budget (``PosixStorage``'s table) instead.
    private func checkRoomForAnotherFile(_ context: OperationContext) throws {
        guard context.replication.role == .client else { return }
        let count = handles.withLock { $0.open.count }
        guard count < openFilesMax else {
            throw FileSystemError(
                .tooManyOpenFiles, "connection has \(count) open files, the limit is \(openFilesMax)")
        }
    }
}

extension Request {
    /// The open file a request acts on, if it acts on one. Every operation is listed, so a new one must say
    /// whether it names an open file (and so whether this connection must own it).
    var openFile: OpenFile? {
        switch self {
        case .attributesOfOpen(let file), .release(let file), .read(let file, _, _), .write(let file, _, _),
            .truncate(let file, _), .synchronize(let file, _), .flush(let file), .allocate(let file, _, _, _),
            .discard(let file, _, _), .zeroFill(let file, _, _), .seek(let file, _, _), .lock(let file, _, _),
            .testLock(let file, _), .grantLocalRead(let file):
            file
        case .lookup, .attributes, .setAttributes, .checkAccess, .create, .open, .openAndRead, .lookupAndRead, .unlink, .makeDirectory,
            .removeDirectory, .readDirectory, .rename, .link, .makeSymbolicLink, .readSymbolicLink, .makeNode,
            .fileSystemStatistics, .extendedAttribute, .setExtendedAttribute, .extendedAttributeNames,
            .removeExtendedAttribute, .control:
            nil
        }
    }
}

extension Request {
    /// Whether this is one of the daemon's questions about the brick itself (metrics, profile, top, clients).
    var isDiagnosticsRequest: Bool {
        switch self {
        case .control(.metrics), .control(.profile), .control(.top), .control(.clients): true
        default: false
        }
    }
}

