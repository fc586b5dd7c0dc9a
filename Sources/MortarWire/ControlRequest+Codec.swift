import MortarCore
import NIOCore

/// The number that stands for each kind of control message after the ``Opcode/control`` byte. Pinned like
/// ``Opcode``: never changed, never reused.
public enum ControlKind: UInt8, CaseIterable, Sendable {
    case heal = 1
    case recordMissed = 2
    case reconcile = 3
    case settleBarrier = 4
    case installView = 5
    case memberStatus = 6
    case metrics = 7
    case profile = 8
    case top = 9
    case clients = 10
    case fence = 11
    case unfence = 12

    public init(_ request: ControlRequest) {
        switch request {
        case .heal: self = .heal
        case .recordMissed: self = .recordMissed
        case .reconcile: self = .reconcile
        case .settleBarrier: self = .settleBarrier
        case .installView: self = .installView
        case .memberStatus: self = .memberStatus
        case .metrics: self = .metrics
        case .profile: self = .profile
        case .top: self = .top
        case .clients: self = .clients
        case .fence: self = .fence
        case .unfence: self = .unfence
        }
    }
}

// Every member position travels as one byte and is checked against `Limits.replicaCountMax`; every count is
// checked against its bound before anything is allocated; a view must pass `checkConsistency()`. Encoders clamp
// (never wrap) a value too large for its field, so it arrives as one the receiver refuses, not as another valid one.

extension ByteBuffer {
    mutating func writeControlRequest(_ request: ControlRequest) {
        writeInteger(ControlKind(request).rawValue)
        switch request {
        case .heal(let heal, let file):
            writeFileID(file)
            writeInteger(UInt8(clamping: heal.member))
            switch heal.item {
            case .directory: writeInteger(0 as UInt8)
            case .file(nil): writeInteger(1 as UInt8)
            case .file(let ranges?):
                writeInteger(2 as UInt8)
                writeInteger(UInt32(ranges.count))
                for range in ranges {
                    writeInteger(range.lowerBound)
                    writeInteger(range.upperBound)
                }
            }
        case .recordMissed(let note), .reconcile(let note):
            writeHealNote(note)
        case .settleBarrier, .memberStatus, .metrics, .profile, .clients:
            break
        case .top(let kind, let count):
            writeInteger(kind.rawValue)
            writeInteger(UInt16(clamping: count))
        case .fence(let file), .unfence(let file):
            writeFileID(file)
        case .installView(let view):
            writeInteger(UInt32(clamping: view.setIndex))
            writeInteger(view.epoch)
            writeInteger(UInt8(clamping: view.minInSync))
            writeInteger(UInt8(clamping: view.members.count))
            for member in view.members.indices {
                writeInteger(Self.stateNumber(view.members[member]))
                writeOptional(view.healSources[member]) { $0.writeInteger(UInt8(clamping: $1)) }
                writeBool(view.fullResync[member])
            }
        }
    }

    private mutating func writeHealNote(_ note: HealNote) {
        writeInteger(UInt8(clamping: note.members.count))
        for member in note.members { writeInteger(UInt8(clamping: member)) }
        writeInteger(UInt32(note.changes.count))
        for change in note.changes {
            switch change {
            case .bytes(let id, let range):
                writeInteger(0 as UInt8)
                writeFileID(id)
                writeInteger(range.lowerBound)
                writeInteger(range.upperBound)
            case .metadata(let id):
                writeInteger(1 as UInt8)
                writeFileID(id)
            case .wholeFile(let id):
                writeInteger(2 as UInt8)
                writeFileID(id)
            case .directory(let id):
                writeInteger(3 as UInt8)
                writeFileID(id)
            }
        }
    }

    mutating func writeMemberStatus(_ status: MemberStatus) {
        writeInteger(status.epoch)
        writeInteger(status.bytesHealed)
        writeInteger(UInt8(clamping: status.pending.count))
        for pending in status.pending {
            writeInteger(UInt8(clamping: pending.member))
            writeInteger(UInt64(clamping: pending.files))
            writeInteger(UInt64(clamping: pending.directories))
            writeInteger(pending.bytes)
        }
    }

    static func stateNumber(_ state: MemberState) -> UInt8 {
        switch state {
        case .inSync: 0
        case .healing: 1
        case .outOfSync: 2
        }
    }
}

extension WireReader {
    mutating func controlRequest() throws(WireError) -> ControlRequest {
        switch try enumeration(ControlKind.self, "control message kind") {
        case .heal:
            let file = try fileID("healed file")
            let member = try memberPosition("healing member")
            let item: HealRequest.Item
            switch try integer(UInt8.self, "heal item") {
            case 0: item = .directory
            case 1: item = .file(ranges: nil)
            case 2: item = .file(ranges: try ranges())
            case let other: throw WireError("invalid heal item \(other)")
            }
            return .heal(HealRequest(member: member, item: item), file: file)
        case .recordMissed: return .recordMissed(try healNote())
        case .reconcile: return .reconcile(try healNote())
        case .settleBarrier: return .settleBarrier
        case .installView: return .installView(try replicaSetView())
        case .memberStatus: return .memberStatus
        case .metrics: return .metrics
        case .profile: return .profile
        case .top:
            let kind = try enumeration(TopKind.self, "top kind")
            let count = Int(try integer(UInt16.self, "top count"))
            guard (1...Limits.profileTopCountMax).contains(count) else {
                throw WireError("top of \(count) files is outside 1...\(Limits.profileTopCountMax)")
            }
            return .top(kind, count: count)
        case .clients: return .clients
        case .fence: return .fence(try fileID("fenced file"))
        case .unfence: return .unfence(try fileID("unfenced file"))
        }
    }

    private mutating func memberPosition(_ what: String) throws(WireError) -> Int {
        let member = Int(try integer(UInt8.self, what))
        guard member < Limits.replicaCountMax else {
            throw WireError("\(what) \(member) is outside a set of at most \(Limits.replicaCountMax)")
        }
        return member
    }

    private mutating func range(_ what: String) throws(WireError) -> Range<UInt64> {
        let lower = try integer(UInt64.self, what)
        let upper = try integer(UInt64.self, what)
        guard lower < upper else { throw WireError("empty or inverted \(what) \(lower)-\(upper)") }
        return lower..<upper
    }

    private mutating func ranges() throws(WireError) -> [Range<UInt64>] {
        let count = Int(try integer(UInt32.self, "heal range count"))
        guard count <= Limits.healRangesPerFileMax else {
            throw WireError("\(count) heal ranges exceed \(Limits.healRangesPerFileMax)")
        }
        var ranges: [Range<UInt64>] = []
        ranges.reserveCapacity(count)
        for _ in 0..<count { ranges.append(try range("heal range")) }
        return ranges
    }

    private mutating func healNote() throws(WireError) -> HealNote {
        let memberCount = Int(try integer(UInt8.self, "heal note member count"))
        guard (1...Limits.replicaCountMax).contains(memberCount) else {
            throw WireError("heal note names \(memberCount) members (1 to \(Limits.replicaCountMax) allowed)")
        }
        var members: [Int] = []
        for _ in 0..<memberCount { members.append(try memberPosition("heal note member")) }
        let count = Int(try integer(UInt32.self, "heal note change count"))
        guard count <= Limits.healNoteChangesMax else {
            throw WireError("\(count) changes in a heal note exceed \(Limits.healNoteChangesMax)")
        }
        var changes: [HealChange] = []
        changes.reserveCapacity(count)
        for _ in 0..<count {
            let tag = try integer(UInt8.self, "heal change kind")
            let id = try fileID("heal change file")
            switch tag {
            case 0: changes.append(.bytes(id, try range("changed range")))
            case 1: changes.append(.metadata(id))
            case 2: changes.append(.wholeFile(id))
            case 3: changes.append(.directory(id))
            default: throw WireError("invalid heal change kind \(tag)")
            }
        }
        return HealNote(members: members, changes: changes)
    }

    private mutating func replicaSetView() throws(WireError) -> ReplicaSetView {
        let setIndex = Int(try integer(UInt32.self, "set index"))
        let epoch = try integer(UInt64.self, "epoch")
        let minInSync = Int(try integer(UInt8.self, "min in sync"))
        let count = Int(try integer(UInt8.self, "member count"))
        guard count <= Limits.replicaCountMax else {
            throw WireError("view of \(count) members exceeds \(Limits.replicaCountMax)")
        }
        var members: [MemberState] = []
        var sources: [Int?] = []
        var full: [Bool] = []
        for _ in 0..<count {
            switch try integer(UInt8.self, "member state") {
            case 0: members.append(.inSync)
            case 1: members.append(.healing)
            case 2: members.append(.outOfSync)
            case let other: throw WireError("invalid member state \(other)")
            }
            sources.append(try optional("heal source") { (r) throws(WireError) in try r.memberPosition("heal source") })
            full.append(try bool("full resync"))
        }
        let view = ReplicaSetView(
            setIndex: setIndex, epoch: epoch, members: members, minInSync: minInSync, healSources: sources,
            fullResync: full)
        do {
            try view.checkConsistency()
        } catch {
            throw WireError(error.message)
        }
        return view
    }

    mutating func memberStatus() throws(WireError) -> MemberStatus {
        let epoch = try integer(UInt64.self, "epoch")
        let bytesHealed = try integer(UInt64.self, "bytes healed")
        let count = Int(try integer(UInt8.self, "pending record count"))
        guard count <= Limits.replicaCountMax else {
            throw WireError("\(count) pending records exceed \(Limits.replicaCountMax)")
        }
        var pending: [MemberStatus.Pending] = []
        for _ in 0..<count {
            let member = try memberPosition("pending member")
            let files = try integer(UInt64.self, "pending files")
            let directories = try integer(UInt64.self, "pending directories")
            guard files <= UInt64(Int.max), directories <= UInt64(Int.max) else {
                throw WireError("pending counts \(files) and \(directories) out of range")
            }
            pending.append(
                MemberStatus.Pending(
                    member: member, files: Int(files), directories: Int(directories),
                    bytes: try integer(UInt64.self, "pending bytes")))
        }
        return MemberStatus(epoch: epoch, bytesHealed: bytesHealed, pending: pending)
    }
}
