import MortarCore

/// A heal source's request to the member that orders an item (the file's primary, or the namespace primary for
/// a directory) to bring one member's copy up to date. It travels as a change of a reserved extended attribute,
/// stamped with the heal role, so the operation table stays the POSIX one; the receiving member runs it under its
/// sequencer, so a heal copy can never overwrite a newer change.
public struct HealRequest: Sendable, Hashable {
    public static let attributeName = "trusted.mortar.heal"

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

    /// `file M whole`, `file M 0-4096,8192-12288`, `directory M`.
    public var encoded: [UInt8] {
        switch item {
        case .directory: Array("directory \(member)".utf8)
        case .file(nil): Array("file \(member) whole".utf8)
        case .file(let ranges?) where ranges.isEmpty: Array("file \(member) none".utf8)
        case .file(let ranges?):
            Array("file \(member) \(ranges.map { "\($0.lowerBound)-\($0.upperBound)" }.joined(separator: ","))".utf8)
        }
    }

    public init(decoding bytes: [UInt8]) throws {
        let words = String(decoding: bytes, as: UTF8.self).split(separator: " ")
        guard words.count >= 2, let member = Int(words[1]), member >= 0 else {
            throw FileSystemError.invalidArgument("malformed heal request")
        }
        switch (words[0], words.count) {
        case ("directory", 2):
            self.init(member: member, item: .directory)
        case ("file", 3) where words[2] == "whole":
            self.init(member: member, item: .file(ranges: nil))
        case ("file", 3) where words[2] == "none":
            self.init(member: member, item: .file(ranges: []))
        case ("file", 3):
            var ranges: [Range<UInt64>] = []
            for part in words[2].split(separator: ",") {
                let bounds = part.split(separator: "-")
                guard bounds.count == 2, let lower = UInt64(bounds[0]), let upper = UInt64(bounds[1]), lower < upper
                else { throw FileSystemError.invalidArgument("malformed range '\(part)' in a heal request") }
                ranges.append(lower..<upper)
            }
            self.init(member: member, item: .file(ranges: ranges))
        default:
            throw FileSystemError.invalidArgument("malformed heal request")
        }
    }
}

/// A primary's message to the other in-sync members after a member failed a change: record the change as missed
/// by that member. Travels like ``HealRequest``.
///
/// The same encoding carries a member's request to the member that orders some changes it holds unsettled
/// (``reconcileAttributeName``: copy your version of them to every member; `members` names the sender), and the
/// barrier a backup sends a primary before it forgets the changes that primary forwarded
/// (``barrierAttributeName``, on the root: answer once every change you began before this one is settled).
public struct HealNote: Sendable, Hashable {
    public static let attributeName = "trusted.mortar.heal-note"
    public static let reconcileAttributeName = "trusted.mortar.reconcile"
    public static let barrierAttributeName = "trusted.mortar.settle-barrier"

    public var members: [Int]
    public var changes: [HealJournal.Change]

    public init(members: [Int], changes: [HealJournal.Change]) {
        self.members = members
        self.changes = changes
    }

    /// `1,2;bytes ID 0 4096;metadata ID;whole ID;directory ID`.
    public var encoded: [UInt8] {
        var parts = [members.map(String.init).joined(separator: ",")]
        for change in changes {
            switch change {
            case .bytes(let id, let range): parts.append("bytes \(id) \(range.lowerBound) \(range.upperBound)")
            case .metadata(let id): parts.append("metadata \(id)")
            case .wholeFile(let id): parts.append("whole \(id)")
            case .directory(let id): parts.append("directory \(id)")
            }
        }
        return Array(parts.joined(separator: ";").utf8)
    }

    public init(decoding bytes: [UInt8]) throws {
        let parts = String(decoding: bytes, as: UTF8.self).split(separator: ";", omittingEmptySubsequences: false)
        guard let first = parts.first else { throw FileSystemError.invalidArgument("malformed heal note") }
        let members = first.split(separator: ",").compactMap { Int($0) }
        guard !members.isEmpty, members.allSatisfy({ $0 >= 0 }) else {
            throw FileSystemError.invalidArgument("malformed heal note: no members")
        }
        var changes: [HealJournal.Change] = []
        for part in parts.dropFirst() {
            let words = part.split(separator: " ")
            guard words.count >= 2, let id = FileID(String(words[1])) else {
                throw FileSystemError.invalidArgument("malformed heal note entry '\(part)'")
            }
            switch (words[0], words.count) {
            case ("metadata", 2): changes.append(.metadata(id))
            case ("whole", 2): changes.append(.wholeFile(id))
            case ("directory", 2): changes.append(.directory(id))
            case ("bytes", 4):
                guard let lower = UInt64(words[2]), let upper = UInt64(words[3]), lower < upper else {
                    throw FileSystemError.invalidArgument("malformed range in heal note entry '\(part)'")
                }
                changes.append(.bytes(id, lower..<upper))
            default:
                throw FileSystemError.invalidArgument("malformed heal note entry '\(part)'")
            }
        }
        self.init(members: members, changes: changes)
    }
}
