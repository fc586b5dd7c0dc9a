import Glibc
import MortarCore
import NIOCore

/// The compound reads of small files: what a reader of a small file does — look it up, open it, read its head —
/// answered as one request, and on this side in one trip to the I/O pool where the name is known.
extension PosixStorage {
    /// An open for reading and the read of the file's first `count` bytes (a cached head is read on the event loop,
    /// as any small read). A file that cannot be read is not left open.
    public func openAndRead(_ file: FileID, flags: OpenFlags, count: Int, context: OperationContext) async throws
        -> OpenedFile
    {
        try Self.checkOpenAndRead(flags: flags, count: count)
        let opened = try await open(file, flags: flags, context: context)
        do {
            return OpenedFile(file: opened, head: try await read(from: opened, at: 0, count: count, context: context))
        } catch {
            try? await release(opened, context: context)  // the handle was just registered: its release cannot fail
            throw error
        }
    }

    /// The lookup, open and read in one job: on the calling thread while the metadata lane is open and the page
    /// cache holds the head (``InlineLane``), else in one trip to the I/O pool (two when the lookup ran inline and
    /// the head was not cached). A regular file is opened by its name (O_NOFOLLOW, and O_NONBLOCK should the name
    /// have become a FIFO since the lstat) and described through the descriptor, so the attributes, FileID and head
    /// are all the opened object's even if the name changes meanwhile; anything else gets the lookup's answer alone.
    public func lookupAndRead(
        _ name: String, in parent: FileID, flags: OpenFlags, count: Int, context: OperationContext
    ) async throws -> FoundFile {
        try Self.checkOpenAndRead(flags: flags, count: count)
        let subject = "lookup in \(parent)"
        let (attributes, descriptor, cachedHead) = try await run(inline: metadataLane, subject) {
            [self, allocator] isInline in
            try withEntry(name, in: parent, use: .find) { entry -> (FileAttributes, Int32?, ByteBuffer?) in
                let status = try SystemCall.lstat(entry.object, entry.subject)
                guard status.st_mode & S_IFMT == S_IFREG else { return (try describe(entry), nil, ByteBuffer()) }
                let descriptor = try SystemCall.open(
                    entry.object, flags: Self.localFlags(flags) | O_NONBLOCK, entry.subject)
                let attributes = try describeExisting(descriptor, entry: entry)  // closes it if it fails
                do {
                    guard attributes.type == .regular else {
                        SystemCall.close(descriptor)
                        return (attributes, nil, ByteBuffer())
                    }
                    guard isInline else {
                        return (attributes, descriptor, try Self.readFully(descriptor, at: 0, count: count, allocator, entry.subject))
                    }
                    // Inline, only what the page cache holds: the head up to the size just seen (a file growing
                    // meanwhile races the reader either way); nil leaves the read to the pool.
                    let wanted = Int(min(UInt64(count), attributes.size))
                    return (attributes, descriptor, wanted == 0 ? ByteBuffer() : readFromCache(descriptor, at: 0, count: wanted))
                } catch {
                    SystemCall.close(descriptor)
                    throw error
                }
            }
        }
        guard let descriptor else { return FoundFile(attributes: attributes, opened: nil) }
        let head: ByteBuffer
        if let cachedHead {
            head = cachedHead
        } else {
            do {
                head = try await run { [allocator] in
                    try Self.readFully(descriptor, at: 0, count: count, allocator, "file \(attributes.id)")
                }
            } catch {
                SystemCall.close(descriptor)
                throw error
            }
        }
        let file = try register(descriptor, id: attributes.id, context: context)
        return FoundFile(attributes: attributes, opened: OpenedFile(file: file, head: head))
    }
}
