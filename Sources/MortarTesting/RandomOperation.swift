import MortarCore
import NIOCore

/// SplitMix64: a tiny, well-mixed generator whose whole state is one number, so a sequence is replayed from its
/// seed alone, on any platform and Swift version (the standard library's generators promise neither).
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) {
        state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }

    /// A number in `0..<bound`, from our own arithmetic so it never depends on the standard library's algorithm.
    mutating func below(_ bound: Int) -> Int {
        precondition(bound > 0, "bound must be positive, got \(bound)")
        return Int(next() % UInt64(bound))
    }

    mutating func pick<Element>(_ elements: [Element]) -> Element {
        elements[below(elements.count)]
    }

    mutating func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8(truncatingIfNeeded: next()) }
    }

    /// A FileID drawn from this generator, so it too is replayable.
    mutating func fileID() -> FileID {
        FileID(high: next() & ~0xF000 | 0x4000, low: next() | 0x8000_0000_0000_0000 & ~0x4000_0000_0000_0000)
    }
}

/// One step of a ``RandomOperationSequence``: an operation with all of its arguments chosen.
enum RandomOperation: Sendable {
    case create(name: String, in: FileID, id: FileID, exclusive: Bool)
    case write(FileID, at: UInt64, bytes: [UInt8], append: Bool)
    case read(FileID, at: UInt64, count: Int)
    case openAndRead(FileID, count: Int)
    case lookupAndRead(String, in: FileID, count: Int)
    case resize(FileID, to: UInt64)
    case rename(String, in: FileID, to: String, newParent: FileID, flags: RenameFlags)
    case link(FileID, as: String, in: FileID)
    case makeSymbolicLink(String, in: FileID, id: FileID, target: String)
    case unlink(String, in: FileID)
    case makeDirectory(String, in: FileID, id: FileID)
    case removeDirectory(String, in: FileID)
    case setExtendedAttribute(String, of: FileID, value: [UInt8], mode: ExtendedAttributeMode)
    case extendedAttribute(String, of: FileID)
    case extendedAttributeNames(of: FileID)
    case removeExtendedAttribute(String, of: FileID)
    case readDirectory(FileID, countMax: Int)
    case lookup(String, in: FileID)
    case attributes(of: FileID)
    case readSymbolicLink(FileID)

    /// A readable form for failure messages (data shortened to its length).
    var summary: String {
        switch self {
        case .write(let id, let offset, let bytes, let append):
            "write(\(id), at: \(offset), \(bytes.count) bytes, append: \(append))"
        case .setExtendedAttribute(let name, let id, let value, let mode):
            "setExtendedAttribute(\(name), of: \(id), \(value.count) bytes, mode: \(mode))"
        default:
            String(describing: self).replacingOccurrences(of: "MortarCore.", with: "")
        }
    }

    /// The operation's name without its arguments, for summaries.
    var kind: String {
        String(summary.prefix { $0 != "(" })
    }

    /// The existing object this step addresses by FileID, if any.
    var addressedID: FileID? {
        switch self {
        case .write(let id, _, _, _), .read(let id, _, _), .openAndRead(let id, _), .resize(let id, _), .link(let id, _, _),
            .setExtendedAttribute(_, let id, _, _), .extendedAttribute(_, let id), .extendedAttributeNames(let id),
            .removeExtendedAttribute(_, let id), .attributes(let id), .readSymbolicLink(let id):
            id
        default:
            nil
        }
    }

    /// The FileID this step creates when it succeeds, for later steps to use.
    var createdID: FileID? {
        switch self {
        case .create(_, _, let id, _), .makeSymbolicLink(_, _, let id, _), .makeDirectory(_, _, let id): id
        default: nil
        }
    }
}

extension String {
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
