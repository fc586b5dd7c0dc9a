/// The stable 128-bit identity of a file, directory or link (GlusterFS called it the GFID).
///
/// A FileID is chosen by the client that creates the object and travels with it across renames and bricks: a
/// directory has the same FileID on every brick of a volume, and a replica of a file has the same FileID as its
/// primary. The root directory of every volume is ``FileID/root``.
public struct FileID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// The root directory of a volume, the same on every brick.
    public static let root = FileID(high: 0, low: 1)

    /// A fresh random identity. Random version-4 layout, so FileIDs never collide in practice.
    public static func random() -> FileID {
        var generator = SystemRandomNumberGenerator()
        return random(using: &generator)
    }

    public static func random<G: RandomNumberGenerator>(using generator: inout G) -> FileID {
        var high = generator.next() as UInt64
        var low = generator.next() as UInt64
        high = (high & ~0xF000) | 0x4000  // version 4
        low = (low & ~(0xC000_0000_0000_0000 as UInt64)) | 0x8000_0000_0000_0000  // RFC 4122 variant
        return FileID(high: high, low: low)
    }

    /// A 64-bit number for APIs that want an inode number (stat's st_ino, FUSE node ids).
    public var inodeNumber: UInt64 {
        self == .root ? 1 : (high ^ low) | 2
    }

    /// Canonical lower-case hexadecimal form with dashes, as UUIDs are written.
    public var description: String {
        let hex = Self.hex(high, width: 16) + Self.hex(low, width: 16)
        let characters = Array(hex)
        let groups = [0..<8, 8..<12, 12..<16, 16..<20, 20..<32]
        return groups.map { String(characters[$0]) }.joined(separator: "-")
    }

    /// Parses the form ``description`` prints (dashes optional).
    public init?(_ text: String) {
        let digits = text.filter { $0 != "-" }
        guard digits.count == 32, let high = UInt64(digits.prefix(16), radix: 16),
            let low = UInt64(digits.suffix(16), radix: 16)
        else { return nil }
        self.init(high: high, low: low)
    }

    /// The 16 bytes, big-endian, as stored in the brick's `trusted.mortar.id` extended attribute.
    public var bytes: [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: high >> (56 - 8 * $0)) }
            + (0..<8).map { UInt8(truncatingIfNeeded: low >> (56 - 8 * $0)) }
    }

    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 16 else { return nil }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for (index, byte) in bytes.enumerated() {
            if index < 8 { high = high << 8 | UInt64(byte) } else { low = low << 8 | UInt64(byte) }
        }
        self.init(high: high, low: low)
    }

    public static func < (lhs: FileID, rhs: FileID) -> Bool {
        (lhs.high, lhs.low) < (rhs.high, rhs.low)
    }

    private static func hex(_ value: UInt64, width: Int) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: width - digits.count) + digits
    }
}
