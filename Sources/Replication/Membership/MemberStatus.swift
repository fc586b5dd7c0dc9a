import MortarCore

/// What a member of a replica set tells the manager's heartbeat: the epoch it is in, and what it has recorded
/// for heal. Read as the reserved extended attribute `trusted.mortar.member-status` of the brick's root, so the
/// heartbeat is an ordinary request that exercises the brick's whole request path.
public struct MemberStatus: Sendable, Hashable {
    public static let attributeName = "trusted.mortar.member-status"

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

    /// `epoch E healed B` then one `pending M F D B` line per member.
    public var encoded: [UInt8] {
        var lines = ["epoch \(epoch) healed \(bytesHealed)"]
        for item in pending { lines.append("pending \(item.member) \(item.files) \(item.directories) \(item.bytes)") }
        return Array(lines.joined(separator: "\n").utf8)
    }

    public init?(decoding bytes: [UInt8]) {
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n")
        guard let first = lines.first else { return nil }
        let head = first.split(separator: " ")
        guard head.count == 4, head[0] == "epoch", head[2] == "healed", let epoch = UInt64(head[1]),
            let healed = UInt64(head[3])
        else { return nil }
        var pending: [Pending] = []
        for line in lines.dropFirst() {
            let words = line.split(separator: " ")
            guard words.count == 5, words[0] == "pending", let member = Int(words[1]), let files = Int(words[2]),
                let directories = Int(words[3]), let bytes = UInt64(words[4])
            else { return nil }
            pending.append(Pending(member: member, files: files, directories: directories, bytes: bytes))
        }
        self.init(epoch: epoch, bytesHealed: healed, pending: pending)
    }
}

extension ReplicaSetView {
    /// The manager pushes each new view to every member as this reserved extended attribute of the brick's root
    /// (with its heartbeat), so members learn a new epoch without waiting for a request that carries it.
    public static let pushAttributeName = "trusted.mortar.member-view"

    /// `set S epoch E min M` then one line per member: `state healSource fullResync` (`-` for no source).
    public var encoded: [UInt8] {
        var lines = ["set \(setIndex) epoch \(epoch) min \(minInSync)"]
        for member in members.indices {
            let source = healSources.indices.contains(member) ? healSources[member].map(String.init) ?? "-" : "-"
            let full = fullResync.indices.contains(member) && fullResync[member]
            lines.append("\(members[member].rawValue) \(source) \(full ? 1 : 0)")
        }
        return Array(lines.joined(separator: "\n").utf8)
    }

    /// Reads the pushed form; anything malformed or inconsistent (``checkConsistency()``) is a protocol error.
    public init(decoding bytes: [UInt8]) throws(FileSystemError) {
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n")
        guard let head = lines.first?.split(separator: " "), head.count == 6, head[0] == "set", head[2] == "epoch",
            head[4] == "min", let setIndex = Int(head[1]), let epoch = UInt64(head[3]), let minInSync = Int(head[5])
        else { throw FileSystemError.protocolError("malformed replica-set view: no 'set S epoch E min M' line") }
        // More lines than a set can have members is junk; stop before building arrays of it.
        guard lines.count - 1 <= Limits.replicaCountMax else {
            throw FileSystemError.protocolError("malformed replica-set view: \(lines.count - 1) member lines")
        }
        var members: [MemberState] = []
        var sources: [Int?] = []
        var full: [Bool] = []
        for line in lines.dropFirst() {
            let words = line.split(separator: " ")
            guard words.count == 3, let state = MemberState(rawValue: String(words[0])),
                words[1] == "-" || Int(words[1]) != nil, words[2] == "0" || words[2] == "1"
            else { throw FileSystemError.protocolError("malformed replica-set view member line '\(line)'") }
            members.append(state)
            sources.append(Int(words[1]))
            full.append(words[2] == "1")
        }
        self.init(
            setIndex: setIndex, epoch: epoch, members: members, minInSync: minInSync, healSources: sources,
            fullResync: full)
        try checkConsistency()
    }
}
