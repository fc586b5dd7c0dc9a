/// The control messages of replication: what the parts of a replica set (the members, and the daemon that
/// heartbeats them) tell each other besides the file operations they forward. They are one operation of the table
/// (``FileOperations/control(_:context:)``) with a typed payload, so the wire carries them with their own opcode and
/// codecs, every guard layer decides what they mean, and a brick refuses them from anyone but a cluster host.
public enum ControlRequest: Sendable, Hashable {
    /// Heal source → the member that orders `file` (its primary, or the namespace primary for a directory): copy
    /// your version of it to the healing member, under your sequencer, so a heal never overwrites a newer change.
    case heal(HealRequest, file: FileID)
    /// Primary → the other in-sync members after a member failed a change: record the change as missed by
    /// `note.members`.
    case recordMissed(HealNote)
    /// A member holding changes it has not settled → the member that orders them: copy your version of them to
    /// every member in sync or healing. `note.members` names the sender.
    case reconcile(HealNote)
    /// Backup → primary, before the backup forgets the changes that primary forwarded to it: answer once every
    /// change you began before this one is settled.
    case settleBarrier
    /// The daemon → a member, with each heartbeat: the set's current view, so members learn a new epoch without
    /// waiting for a request that carries it.
    case installView(ReplicaSetView)
    /// The daemon → a member, with each heartbeat: your epoch and what you have recorded for heal
    /// (``ControlReply/memberStatus(_:)``).
    case memberStatus
    /// The daemon → any brick it runs, for a scrape: the brick process's metrics in Prometheus's text format
    /// (``ControlReply/metrics(_:)``). Answered by the brick's server, not by its stack.
    case metrics
    /// The daemon → a brick, for `volume profile VOL info`: what the brick's profiler counted since profiling
    /// started and since the last of these (``ControlReply/profile(_:)``); a new interval begins. Answered by the
    /// brick's server.
    case profile
    /// The daemon → a brick, for `volume top`: its `count` hottest files by `kind` (``ControlReply/top(_:)``).
    case top(TopKind, count: Int)
    /// The daemon → a brick, for `volume status VOL clients`: the connections it serves (``ControlReply/clients(_:)``).
    case clients
    /// A rebalance → the brick holding `file` (through a replicated volume's primary), before it moves the file
    /// to another brick: refuse new opens of it and changes to it from every other connection (they get
    /// ``FileSystemError/Code/beingMoved`` and ask again), and say how many of its opens other connections hold
    /// (``ControlReply/fenced(openElsewhere:)``). The fence lasts until ``unfence(_:)`` or until the sender's
    /// connection closes, so a rebalance that dies fences nothing for ever. Answered by the brick's server.
    case fence(FileID)
    /// Lifts the sender's ``fence(_:)`` of a file.
    case unfence(FileID)

    /// Whether sending the message twice has the same effect as sending it once (a reconnect may repeat it).
    /// A heal copy, a recorded note and a reconcile are not repeated: their sender learns of a lost reply and
    /// retries at a point it chooses.
    public var isIdempotent: Bool {
        switch self {
        case .settleBarrier, .installView, .memberStatus, .metrics, .top, .clients, .fence, .unfence: true
        // Each one ends the profile's interval.
        case .profile: false
        case .heal, .recordMissed, .reconcile: false
        }
    }

    /// A short name for logs and errors.
    public var name: String {
        switch self {
        case .heal: "heal request"
        case .recordMissed: "heal note"
        case .reconcile: "reconcile request"
        case .settleBarrier: "settle barrier"
        case .installView: "view push"
        case .memberStatus: "member status request"
        case .metrics: "metrics request"
        case .profile: "profile request"
        case .top: "top request"
        case .clients: "client list request"
        case .fence: "migration fence"
        case .unfence: "migration unfence"
        }
    }
}

/// What a control message answers.
public enum ControlReply: Sendable, Hashable {
    case done
    case memberStatus(MemberStatus)
    /// A brick's metrics, in Prometheus's text format.
    case metrics(String)
    case profile(BrickProfile)
    case top(BrickTop)
    case clients(BrickClients)
    /// A file fenced for a move (``ControlRequest/fence(_:)``), and how many opens of it other connections hold.
    case fenced(openElsewhere: Int)

    /// The member's status, or a protocol error naming what came instead.
    public func status() throws(FileSystemError) -> MemberStatus {
        guard case .memberStatus(let status) = self else {
            throw FileSystemError.protocolError("a member status request was answered without a status")
        }
        return status
    }
}

/// One change a member missed (or holds unsettled), as heal records and copies it.
public enum HealChange: Sendable, Hashable {
    case bytes(FileID, Range<UInt64>)
    /// Size, mode, owner, times or extended attributes: healed without copying data.
    case metadata(FileID)
    /// A new file: copied whole.
    case wholeFile(FileID)
    case directory(FileID)
}

/// What a heal source asks the ordering member to copy to `member`.
public struct HealRequest: Sendable, Hashable {
    public enum Item: Sendable, Hashable {
        /// The file's content (`nil`: whole, else these ranges; none: metadata only), size, attributes and
        /// extended attributes.
        case file(ranges: [Range<UInt64>]?)
        /// The directory's entries and attributes.
        case directory
    }

    public var member: Int
    public var item: Item

    public init(member: Int, item: Item) {
        self.member = member
        self.item = item
    }
}

/// Changes, and the members they concern (see ``ControlRequest/recordMissed(_:)`` and
/// ``ControlRequest/reconcile(_:)``).
public struct HealNote: Sendable, Hashable {
    public var members: [Int]
    public var changes: [HealChange]

    public init(members: [Int], changes: [HealChange]) {
        self.members = members
        self.changes = changes
    }
}

/// What a member of a replica set tells the daemon's heartbeat: the epoch it is in, and what it has recorded for
/// heal.
public struct MemberStatus: Sendable, Hashable {
    /// What one member has recorded for another: files and directories to heal, and changed bytes (files to
    /// copy whole count 0 bytes: their size is read when they are healed).
    public struct Pending: Codable, Sendable, Hashable {
        public var member: Int
        public var files: Int
        public var directories: Int
        public var bytes: UInt64

        public init(member: Int, files: Int, directories: Int, bytes: UInt64) {
            self.member = member
            self.files = files
            self.directories = directories
            self.bytes = bytes
        }

        /// A member position outside any set, or a negative count, is refused when decoded.
        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            member = try container.decode(Int.self, forKey: .member)
            files = try container.decode(Int.self, forKey: .files)
            directories = try container.decode(Int.self, forKey: .directories)
            bytes = try container.decode(UInt64.self, forKey: .bytes)
            guard (0..<Limits.replicaCountMax).contains(member), files >= 0, directories >= 0 else {
                throw DecodingError.dataCorrupted(
                    DecodingError.Context(
                        codingPath: decoder.codingPath,
                        debugDescription: "pending record for member \(member): \(files) files, \(directories) directories"))
            }
        }
    }

    public var epoch: UInt64
    public var bytesHealed: UInt64
    public var pending: [Pending]

    public init(epoch: UInt64, bytesHealed: UInt64, pending: [Pending]) {
        self.epoch = epoch
        self.bytesHealed = bytesHealed
        self.pending = pending
    }
}
