/// Rules for a single directory-entry name, checked at every trust boundary (client API, brick server).
public enum EntryName {
    /// Throws EINVAL for an empty name, `.`/`..`, a slash or a NUL byte, and ENAMETOOLONG past the limit.
    public static func validate(_ name: String) throws {
        guard !name.isEmpty else { throw FileSystemError.invalidArgument("empty file name") }
        guard name != ".", name != ".." else {
            throw FileSystemError.invalidArgument("'\(name)' is not a valid entry name here")
        }
        guard name.utf8.count <= Limits.nameByteCountMax else {
            throw FileSystemError(
                .nameTooLong, "name of \(name.utf8.count) bytes exceeds \(Limits.nameByteCountMax): \(name.prefix(32))…")
        }
        guard !name.utf8.contains(0x2F) else { throw FileSystemError.invalidArgument("'/' in entry name '\(name)'") }
        guard !name.utf8.contains(0) else { throw FileSystemError.invalidArgument("NUL byte in entry name") }
    }
}
