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

    /// Canonical lower-case hexadecimal form with dashes, as UUIDs are written. Written straight into the string's
    /// storage: bricks format a FileID for every index path they resolve, and the generic formatting this replaced
    /// was an eighth of a brick's CPU answering lookups.
    public var description: String {
        String(unsafeUninitializedCapacity: 36) { buffer in
            let digits: StaticString = "0123456789abcdef"
            var position = 0
            func put(_ value: UInt64, nibbles: Int, shift: Int) {
                for index in 0..<nibbles {
                    let nibble = Int((value >> UInt64(shift - 4 * index)) & 0xF)
                    buffer[position] = digits.utf8Start[nibble]
                    position += 1
                }
            }
            func dash() {
                buffer[position] = UInt8(ascii: "-")
                position += 1
            }
            put(high, nibbles: 8, shift: 60)
            dash()
            put(high, nibbles: 4, shift: 28)
            dash()
            put(high, nibbles: 4, shift: 12)
            dash()
            put(low, nibbles: 4, shift: 60)
            dash()
            put(low, nibbles: 12, shift: 44)
            return position
        }
    }

    /// Parses the form ``description`` prints (dashes optional; either case).
    public init?(_ text: String) {
        var high: UInt64 = 0
        var low: UInt64 = 0
        var count = 0
        for byte in text.utf8 where byte != UInt8(ascii: "-") {
            let value: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): value = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): value = byte - UInt8(ascii: "A") + 10
            default: return nil
            }
            guard count < 32 else { return nil }
            if count < 16 { high = high << 4 | UInt64(value) } else { low = low << 4 | UInt64(value) }
            count += 1
        }
        guard count == 32 else { return nil }
        self.init(high: high, low: low)
    }

    /// The 16 bytes, big-endian, as stored in the brick's `trusted.mortar.id` extended attribute.
    public var bytes: [UInt8] {
        [UInt8](unsafeUninitializedCapacity: 16) { buffer, count in
            for index in 0..<8 {
                buffer[index] = UInt8(truncatingIfNeeded: high >> (56 - 8 * index))
                buffer[8 + index] = UInt8(truncatingIfNeeded: low >> (56 - 8 * index))
            }
            count = 16
        }
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

}
