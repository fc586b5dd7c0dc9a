import CMortarLinux
import Glibc
import Logging
import MortarCore
import MortarTransport
import MortarWire
import NIOCore
import NIOPosix
import Synchronization

/// How many descriptors of granted files a process holds. Each is one more descriptor of the application's
/// (qemu's, Samba's), so the clients of a process share one budget (``shared``: `Limits.localReadDescriptorsMax`);
/// past it, files are read over the connection until some close.
public final class LocalReadDescriptorBudget: Sendable {
    public static let shared = LocalReadDescriptorBudget(capacity: Limits.localReadDescriptorsMax)
    public let capacity: Int
    private let held = Atomic<Int>(0)

    public init(capacity: Int) { self.capacity = capacity }

    /// Descriptors held now.
    public var heldCount: Int { held.load(ordering: .relaxed) }

    /// Holds a place for a descriptor about to be claimed; false when the budget is spent. A place not turned into
    /// a ``LocalFileDescriptor`` is given back with ``giveBack()``.
    func reserve() -> Bool {
        if held.add(1, ordering: .relaxed).newValue <= capacity { return true }
        giveBack()
        return false
    }

    func giveBack() { held.subtract(1, ordering: .relaxed) }
}

/// A read-only descriptor of a file on this host's brick, which this process reads itself. It closes when the
/// file is released and the last read using it is done, so a read never uses a number reused meanwhile, and its
/// place in the budget goes back then.
final class LocalFileDescriptor: Sendable {
    let value: Int32
    private let budget: LocalReadDescriptorBudget

    /// Takes a descriptor claimed in a place reserved in `budget`.
    init(_ value: Int32, budget: LocalReadDescriptorBudget) {
        self.value = value
        self.budget = budget
    }

    deinit {
        close(value)
        budget.giveBack()
    }
}

/// A granted file's descriptor, with the state word of the replica member that granted it (nil on a volume that
/// is not replicated) and the epoch of the request reading it.
struct LocalRead {
    let descriptor: LocalFileDescriptor
    let member: MemberStateReader?
    let epoch: UInt64

    /// Whether the member serves reads in the request's epoch now (always, off replicated volumes).
    var memberServes: Bool { member.map { $0.word == MemberStateWord.serving(epoch: epoch) } ?? true }
}

/// Where an open file stands with short-circuit reads: not asked yet, being asked for (reads go over the
/// connection meanwhile), refused or failed (they always do), or granted.
enum LocalReadState {
    case untried
    case asking
    case unavailable
    case granted(LocalFileDescriptor)
}

// Short-circuit local reads: a client on the brick's host (connected over its Unix socket) asks the brick once per
// open file for a read-only descriptor of it (`grantLocalRead`, claimed on the brick's hand-off socket) and then
// reads with pread(2) what the brick would have read for it. Everything above this client — write-behind,
// read-ahead, the replicate and distribute layers — still decides what is read and when; only the transport of the
// bytes changes. A brick that refuses them all (EOPNOTSUPP: no hand-off) is asked no more on that connection; a
// refusal of one file (not a regular file, not its primary) leaves the others asking.
extension ProtocolClient {
    /// Reads of granted files that would wait for the disk, for callers whose thread must not block. Sized for a
    /// queue of reads in flight at once (`Limits.localReadThreadCount`), shared by the process's clients.
    static let localReadThreads: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: Limits.localReadThreadCount)
        pool.start()
        return pool
    }()

    /// How to read `file` locally: its descriptor, and for a replica member the state word that must agree with
    /// the request's epoch; nil to read over the connection. Asks the brick for a descriptor on the first read.
    func localRead(of file: OpenFile, context: OperationContext) async -> LocalRead? {
        guard readsLocally, case .unixSocket(let socket) = endpoint else { return nil }
        let replicated = context.replication.isReplicated
        enum Step {
            case network
            case use(LocalFileDescriptor, MemberStateReader?)
            case ask(generation: UInt64)
            case mapState(generation: UInt64)
        }
        let step = state.withLock { state -> Step in
            guard var open = state.files[file.handle], open.id == file.id, open.flags.contains(.read),
                open.generation == state.generation, state.localReadsRefusedGeneration != state.generation
            else { return .network }
            // Only while the brick is there: a stopped volume, or a brick that died, serves nothing — and a member
            // that went away publishes nothing more. The read goes over the connection, which reconnects or fails.
            guard state.connection?.isActive == true else { return .network }
            var member: MemberStateReader?
            if replicated {
                guard let mapped = state.memberState, mapped.generation == state.generation else {
                    return .mapState(generation: state.generation)
                }
                member = mapped.reader
            }
            switch open.local {
            case .granted(let descriptor):
                return .use(descriptor, member)
            case .asking, .unavailable:
                return .network
            case .untried:
                // No room for one more descriptor: this read goes over the connection, a later one asks again.
                guard localDescriptorBudget.reserve() else { return .network }
                open.local = .asking
                state.files[file.handle] = open
                return .ask(generation: open.generation)
            }
        }
        switch step {
        case .network:
            return nil
        case .use(let descriptor, let member):
            return LocalRead(descriptor: descriptor, member: member, epoch: context.replication.epoch)
        case .mapState(let generation):
            mapMemberState(socket: socket, generation: generation)
            return nil  // this read goes over the connection; the next one asks for a descriptor
        case .ask(let generation):
            guard let descriptor = await askForLocalDescriptor(file, generation: generation, socket: socket, context: context)
            else { return nil }
            let member = replicated ? state.withLock { $0.memberState?.reader } : nil
            if replicated, member == nil { return nil }
            return LocalRead(descriptor: descriptor, member: member, epoch: context.replication.epoch)
        }
    }

    /// Maps the member's state word for this connection; a member that publishes none is asked for no
    /// descriptor on it (its reads could not be checked).
    private func mapMemberState(socket: String, generation: UInt64) {
        let path = MemberStateWord.path(besides: socket)
        do {
            let reader = try MemberStateReader(path: path)
            state.withLock { state in
                guard state.generation == generation else { return }
                state.memberState = (generation, reader)
            }
        } catch {
            logger.debug("no short-circuit reads from this member", metadata: ["state word": "\(error)"])
            state.withLock { $0.localReadsRefusedGeneration = generation }
        }
    }

    private func askForLocalDescriptor(
        _ file: OpenFile, generation: UInt64, socket: String, context: OperationContext
    ) async -> LocalFileDescriptor? {
        var outcome = LocalReadState.unavailable
        var refusedByBrick = false
        do {
            let grant = try await grantLocalRead(of: file, context: context)
            let path = DescriptorHandoff.socketPath(besides: socket)
            let descriptor = try await Self.localReadThreads.runIfActive { try DescriptorHandoff.claim(grant, at: path) }
            outcome = .granted(LocalFileDescriptor(descriptor, budget: localDescriptorBudget))  // the place is its now
        } catch let error as FileSystemError where error.code == .notSupported {
            refusedByBrick = true
        } catch let error as FileSystemError where error.code == .membershipChanged {
            outcome = .untried  // the replica set moved on: asked again in the next epoch
        } catch {
            // The read goes over the connection, as every read did before: a grant is a shortcut, never required.
            logger.debug("file \(file.id) is read over the connection", metadata: ["no local descriptor": "\(error)"])
        }
        switch outcome {
        case .granted: break
        case .untried, .asking, .unavailable: localDescriptorBudget.giveBack()
        }
        return state.withLock { state -> LocalFileDescriptor? in
            if refusedByBrick { state.localReadsRefusedGeneration = generation }
            // A file released or reopened on a new connection meanwhile: the descriptor is dropped (and closes).
            guard state.files[file.handle]?.id == file.id, state.files[file.handle]?.generation == generation else {
                return nil
            }
            state.files[file.handle]?.local = outcome
            guard case .granted(let descriptor) = outcome else { return nil }
            return descriptor
        }
    }

    /// Up to `count` bytes at `offset` of a granted file; fewer only at its end. What the page cache holds is
    /// read on this thread; the rest where blocking is allowed: here for a caller whose thread is parked for the
    /// call (``CallingThread/mayBlock``), on ``localReadThreads`` for everyone else. nil — read over the
    /// connection — when a member's state word does not say, before and after the read, that it serves reads in
    /// the request's epoch.
    func readLocally(_ local: LocalRead, of file: OpenFile, at offset: UInt64, count: Int) async throws
        -> ByteBuffer?
    {
        guard offset <= UInt64(Int64.max - Int64(count)) else {
            throw FileSystemError.invalidArgument("read at offset \(offset) is beyond the largest file offset")
        }
        guard local.memberServes else { return nil }
        let data = try await readLocally(local.descriptor, of: file, at: offset, count: count)
        guard local.memberServes else { return nil }
        localReadCounter.add(1, ordering: .relaxed)
        return data
    }

    private func readLocally(_ descriptor: LocalFileDescriptor, of file: OpenFile, at offset: UInt64, count: Int)
        async throws -> ByteBuffer
    {
        var buffer = ByteBufferAllocator().buffer(capacity: count)
        if CallingThread.mayBlock {
            try Self.readFully(descriptor, into: &buffer, at: offset, count: count, waiting: true, file.id)
            Self.adviseStream(descriptor, after: buffer, at: offset, count: count)
            return buffer
        }
        if try Self.readFully(descriptor, into: &buffer, at: offset, count: count, waiting: false, file.id) {
            return buffer
        }
        return try await Self.localReadThreads.runIfActive { [buffer] in
            var rest = buffer
            try Self.readFully(descriptor, into: &rest, at: offset, count: count, waiting: true, file.id)
            Self.adviseStream(descriptor, after: rest, at: offset, count: count)
            return rest
        }
    }

    /// A read as large as a request carries is a stream (read-ahead's windows, a copy, a VM image read): have the
    /// kernel start reading what follows, as the brick does for such a read, so that the disk works while this
    /// process uses what it got. Only where blocking is allowed (the advice may wait to queue its reads), and
    /// only advice: its failure changes nothing.
    private static func adviseStream(_ descriptor: LocalFileDescriptor, after buffer: ByteBuffer, at offset: UInt64, count: Int) {
        guard count == Limits.ioByteCountMax, buffer.readableBytes == count else { return }
        _ = posix_fadvise(
            descriptor.value, off_t(offset) + off_t(count), off_t(Limits.brickStreamAdviceByteCount),
            POSIX_FADV_WILLNEED)
    }

    /// Fills `buffer` up to `count` bytes from `offset` (what it holds already counts). Returns whether it is done
    /// (full, or at the end of the file); without `waiting`, stops early where the page cache does not have the
    /// next bytes.
    @discardableResult
    private static func readFully(
        _ descriptor: LocalFileDescriptor, into buffer: inout ByteBuffer, at offset: UInt64, count: Int,
        waiting: Bool, _ id: FileID
    ) throws -> Bool {
        while buffer.readableBytes < count {
            let position = Int64(offset) + Int64(buffer.readableBytes)
            let wanted = count - buffer.readableBytes
            var got = 0
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: wanted) { pointer in
                got = waiting
                    ? Glibc.pread(descriptor.value, pointer.baseAddress, wanted, off_t(position))
                    : cmortar_pread_nowait(descriptor.value, pointer.baseAddress, wanted, position)
                return max(got, 0)  // what the buffer gained; a failure is looked at below
            }
            if got < 0 {
                let failure = errno
                if failure == EINTR { continue }
                // Not cached, or a file system that cannot say: the rest is read where waiting is allowed.
                if !waiting, failure == EAGAIN || failure == EOPNOTSUPP { return false }
                throw FileSystemError.fromErrno("pread", "file \(id) (read locally)", errno: failure)
            }
            if got == 0 { return true }
        }
        return true
    }
}
