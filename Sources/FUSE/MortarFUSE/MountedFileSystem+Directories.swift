import CFuse
import Glibc
import MortarCore
import Synchronization

/// Directory listings. With readdirplus every entry carries its attributes (the volume lists them together
/// anyway), so `ls -l` and `find` need no lookup per name.
extension MountedFileSystem {
    func openDirectory(_ request: Request, node: UInt64, info: fuse_file_info) {
        serve(request) { _ in
            let id = try self.fileID(of: node)
            var reply = info
            reply.fh = try self.directories.withLock {
                try $0.add(DirectoryStream(directory: id, fileOperations: self.stack))
            }
            if fuse_reply_open(request.raw, &reply) != 0 {
                self.directories.withLock { $0.remove(reply.fh) }
            }
        }
    }

    func releaseDirectory(_ request: Request, handle: UInt64) {
        directories.withLock { $0.remove(handle) }
        request.succeed()
    }

    /// Fills the kernel's buffer from `offset` on. Offsets: 0 starts at `.`, 1 is `..`, 2 + k is entry k of the
    /// listing; each entry carries the offset of the one after it.
    func readDirectory(_ request: Request, node: UInt64, handle: UInt64, size: Int, offset: Int64, plus: Bool) {
        serve(request) { context in
            let stream = try self.directories.withLock { try $0.stream(handle) }
            var buffer = [CChar](repeating: 0, count: size)
            var used = 0
            var position = Int(max(0, offset))
            let dots = [".", ".."]
            while position < DirectoryStream.dotCount {
                let status = stat(inode: position == 0 ? stream.directory.inodeNumber : 1, mode: S_IFDIR)
                let dot = DirectoryEntryData(name: dots[position], status: status, attributes: nil)
                guard self.add(dot, request, &buffer, &used, nextOffset: position + 1, plus: plus) else { break }
                position += 1
            }
            filling: while position >= DirectoryStream.dotCount {
                let index = position - DirectoryStream.dotCount
                let entries = try await stream.entries(
                    from: index, generation: self.quietGeneration(), context: context)
                if entries.isEmpty { break }
                for entry in entries {
                    let data = DirectoryEntryData(
                        name: entry.name, status: stat(entry.attributes), attributes: entry.attributes)
                    guard self.add(data, request, &buffer, &used, nextOffset: position + 1, plus: plus) else {
                        break filling
                    }
                    position += 1
                }
            }
            buffer.withUnsafeBytes { request.reply(bytes: UnsafeRawBufferPointer(rebasing: $0[..<used])) }
        }
    }

    private struct DirectoryEntryData {
        var name: String
        var status: stat
        var attributes: FileAttributes?
    }

    /// Appends one entry if it fits. With readdirplus the entry hands the kernel a node (one lookup counted),
    /// except for `.` and `..`, which the kernel never takes as nodes.
    private func add(
        _ entry: DirectoryEntryData, _ request: Request, _ buffer: inout [CChar], _ used: inout Int,
        nextOffset: Int, plus: Bool
    ) -> Bool {
        let remaining = buffer.count - used
        if !plus {
            var status = entry.status
            let needed = fuse_add_direntry(request.raw, nil, 0, entry.name, &status, off_t(nextOffset))
            guard needed <= remaining else { return false }
            buffer.withUnsafeMutableBufferPointer { pointer in
                _ = fuse_add_direntry(
                    request.raw, pointer.baseAddress! + used, remaining, entry.name, &status, off_t(nextOffset))
            }
            used += needed
            return true
        }
        var parameters = fuse_entry_param()
        parameters.attr = entry.status
        let needed = fuse_add_direntry_plus(request.raw, nil, 0, entry.name, &parameters, off_t(nextOffset))
        guard needed <= remaining else { return false }
        if let attributes = entry.attributes {
            // The inode table is full: the page ends here, and the kernel asks again from this entry.
            guard let node = try? inodes.withLock({ try $0.remember(attributes) }) else { return false }
            parameters = entryParameters(node: node, attributes)
        }
        buffer.withUnsafeMutableBufferPointer { pointer in
            _ = fuse_add_direntry_plus(
                request.raw, pointer.baseAddress! + used, remaining, entry.name, &parameters, off_t(nextOffset))
        }
        used += needed
        return true
    }

    /// Directory changes are applied on the bricks as they are made; there is nothing more to write out.
    func synchronizeDirectory(_ request: Request) {
        request.succeed()
    }
}

extension stat {
    /// Just enough of a `struct stat` for a directory entry without attributes (`.` and `..`).
    init(inode: UInt64, mode: mode_t) {
        self.init()
        st_ino = ino_t(inode)
        st_mode = mode
    }
}
