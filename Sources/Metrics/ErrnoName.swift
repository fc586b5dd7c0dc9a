import Glibc
import MortarCore

extension FileSystemError.Code {
    /// The errno's symbolic name ("ENOENT"), for metric labels; "errno N" where the C library has no name for it.
    /// glibc's `strerrorname_np` (2.32 and later), found at run time: Swift's Glibc module does not declare it.
    public var symbolicName: String {
        if let lookup = Self.strerrorname, let name = lookup(rawValue) { return String(cString: name) }
        return "errno \(rawValue)"
    }

    private typealias NameFunction = @convention(c) (Int32) -> UnsafePointer<CChar>?

    private static let strerrorname: NameFunction? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "strerrorname_np") else { return nil }
        return unsafeBitCast(symbol, to: NameFunction.self)
    }()
}
