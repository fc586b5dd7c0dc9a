/// The number that stands for each operation on the wire, written as the first byte of a request.
///
/// Raw values are pinned for ever: a number that shipped never changes meaning and is never reused, and a new
/// operation takes the next free number. `GoldenBytesTests` holds the exact bytes of every request and reply, so a
/// changed number or field order fails a test, not a rolling upgrade.
public enum Opcode: UInt8, CaseIterable, Sendable {
    case lookup = 1
    case attributes = 2
    case attributesOfOpen = 3
    case setAttributes = 4
    case checkAccess = 5
    case create = 6
    case open = 7
    case release = 8
    case read = 9
    case write = 10
    case truncate = 11
    case synchronize = 12
    case flush = 13
    case allocate = 14
    case discard = 15
    case zeroFill = 16
    case seek = 17
    case lock = 18
    case testLock = 19
    case unlink = 20
    case makeDirectory = 21
    case removeDirectory = 22
    case readDirectory = 23
    case rename = 24
    case link = 25
    case makeSymbolicLink = 26
    case readSymbolicLink = 27
    case makeNode = 28
    case fileSystemStatistics = 29
    case extendedAttribute = 30
    case setExtendedAttribute = 31
    case extendedAttributeNames = 32
    case removeExtendedAttribute = 33
    /// A control message of replication; its kind follows (``ControlKind``).
    case control = 34
    case openAndRead = 35
    case lookupAndRead = 36
    case grantLocalRead = 37
}
