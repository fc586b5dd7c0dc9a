/// Where one member of a replica set stands in the current epoch.
public enum MemberState: String, Codable, Sendable, Hashable, CaseIterable {
    /// Holds every acknowledged change; takes part in every write and may serve reads and act as a primary.
    case inSync = "in-sync"
    /// Back after a failure and being caught up: receives new changes, never serves reads, never acknowledges.
    case healing
    /// Down, cut off or replaced: receives nothing; the in-sync members record what it misses.
    case outOfSync = "out-of-sync"
}

/// One replica set's membership as every party sees it: the manager decides it, clients route by it, bricks
/// check every forwarded change against its epoch. A value: comparing two views is comparing epochs.
public struct ReplicaSetView: Codable, Sendable, Hashable {
    /// Which set of the volume (consecutive bricks, `replica` at a time).
    public var setIndex: Int
    /// Only ever increases; every change of the members' states makes a new epoch. Members refuse changes
    /// tagged with another epoch, so a primary that missed a change of membership can acknowledge nothing.
    public var epoch: UInt64
    /// The members' states, by position in the set.
    public var members: [MemberState]
    /// How many members must be in sync for the set to accept changes.
    public var minInSync: Int
    /// For each healing member, the member that heals it (reads its record and has the items copied).
    public var healSources: [Int?]
    /// For each member, whether its heal must compare everything (no complete record of what it missed exists).
    public var fullResync: [Bool]

    public init(
        setIndex: Int, epoch: UInt64, members: [MemberState], minInSync: Int, healSources: [Int?]? = nil,
        fullResync: [Bool]? = nil
    ) {
        self.setIndex = setIndex
        self.epoch = epoch
        self.members = members
        self.minInSync = minInSync
        self.healSources = healSources ?? Array(repeating: nil, count: members.count)
        self.fullResync = fullResync ?? Array(repeating: false, count: members.count)
    }

    /// A new set whose members all start in sync (every brick of a new volume is empty).
    public init(setIndex: Int, memberCount: Int, minInSync: Int) {
        self.init(
            setIndex: setIndex, epoch: 1, members: Array(repeating: .inSync, count: memberCount), minInSync: minInSync)
    }

    /// The default minimum: a majority, so any acknowledged change survives the loss of any minority.
    public static func majority(of memberCount: Int) -> Int {
        memberCount / 2 + 1
    }

    public var inSyncMembers: [Int] {
        members.indices.filter { members[$0] == .inSync }
    }

    public var healingMembers: [Int] {
        members.indices.filter { members[$0] == .healing }
    }

    /// Whether the set accepts writes and namespace changes.
    public var isWritable: Bool {
        inSyncMembers.count >= minInSync
    }

    /// The member that orders changes to `file` and serves its reads: the in-sync member with the highest
    /// rendezvous score for the FileID. Spreads files evenly, and when a member leaves or rejoins only the files
    /// it was (or becomes) primary for move. Nil only if no member is in sync.
    public func primary(for file: FileID) -> Int? {
        inSyncMembers.max { Self.score(file, $0) < Self.score(file, $1) }
    }

    /// The member that orders every namespace change of the set (create, remove, rename, link): one member, so two
    /// changes of the same names can never be ordered differently on different members.
    public var namespacePrimary: Int? {
        primary(for: .root)
    }

    /// Who a primary sends a change to besides applying it: every other in-sync member (all must apply it before
    /// it is acknowledged) and every healing member (best effort; what fails is recorded for heal).
    public func forwardTargets(from primary: Int) -> [Int] {
        members.indices.filter { $0 != primary && members[$0] != .outOfSync }
    }

    /// SplitMix64 finaliser over the FileID and the member's position.
    static func score(_ file: FileID, _ member: Int) -> UInt64 {
        var value = file.high ^ (file.low &* 0x9E37_79B9_7F4A_7C15) ^ (UInt64(member) &* 0xD1B5_4A32_D192_ED03)
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}

extension ReplicaSetView {
    /// Checks that the view holds together on its own. Every view that comes from another process — the manager's
    /// JSON answers, the view it pushes to members, the catalog file — passes here before anything routes by
    /// it: members and clients index `members`, `healSources` and `fullResync` by position and compute
    /// `epoch ± 1`, so a view that broke one of these rules would trap instead of failing one request.
    public func checkConsistency() throws(FileSystemError) {
        func invalid(_ reason: String) -> FileSystemError {
            FileSystemError.protocolError("invalid view of replica set \(setIndex): \(reason)")
        }
        guard (0..<Limits.bricksPerVolumeMax).contains(setIndex) else {
            throw invalid("set index outside 0..<\(Limits.bricksPerVolumeMax)")
        }
        guard (1...Limits.replicaEpochMax).contains(epoch) else {
            throw invalid("epoch \(epoch) outside 1...\(Limits.replicaEpochMax)")
        }
        guard (1...Limits.replicaCountMax).contains(members.count) else {
            throw invalid("\(members.count) members (1 to \(Limits.replicaCountMax) allowed)")
        }
        guard healSources.count == members.count, fullResync.count == members.count else {
            throw invalid(
                "\(members.count) members but \(healSources.count) heal sources and \(fullResync.count) resync flags")
        }
        guard (1...members.count).contains(minInSync) else {
            throw invalid("min-in-sync \(minInSync) of \(members.count) members")
        }
        for (member, source) in healSources.enumerated() {
            guard let source else { continue }
            guard members.indices.contains(source), source != member else {
                throw invalid("member \(member) has heal source \(source)")
            }
        }
    }

    /// The view, checked on its own and against what the receiver knows from the volume's spec: which set it
    /// asked about and how many members that set has.
    public func validated(setIndex expected: Int, memberCount: Int) throws(FileSystemError) -> ReplicaSetView {
        try checkConsistency()
        guard setIndex == expected else {
            throw FileSystemError.protocolError("got a view of replica set \(setIndex) for set \(expected)")
        }
        guard members.count == memberCount else {
            throw FileSystemError.protocolError(
                "view of replica set \(setIndex) has \(members.count) members; the volume's spec has \(memberCount)")
        }
        return self
    }

    /// Decodes and checks (``checkConsistency()``): a malformed view never becomes a value.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            setIndex: try container.decode(Int.self, forKey: .setIndex),
            epoch: try container.decode(UInt64.self, forKey: .epoch),
            members: try container.decode([MemberState].self, forKey: .members),
            minInSync: try container.decode(Int.self, forKey: .minInSync),
            healSources: try container.decode([Int?].self, forKey: .healSources),
            fullResync: try container.decode([Bool].self, forKey: .fullResync))
        do {
            try checkConsistency()
        } catch {
            throw DecodingError.dataCorrupted(
                DecodingError.Context(codingPath: decoder.codingPath, debugDescription: error.message))
        }
    }
}

extension ReplicaSetView: CustomStringConvertible {
    public var description: String {
        let states = members.enumerated().map { "\($0.offset)=\($0.element.rawValue)" }.joined(separator: " ")
        return "set \(setIndex) epoch \(epoch): \(states)"
    }
}
