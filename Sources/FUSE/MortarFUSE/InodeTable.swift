import Glibc
import MortarCore

/// The kernel's inodes on this mount: FUSE node ids mapped to FileIDs and back, with the kernel's lookup counts.
///
/// Keyed by FileID, so an object keeps its node id across renames and hard links (all names of a file share one
/// node). Node ids are handed out in sequence and never reused while the mount lives, so the kernel never confuses
/// a forgotten object with a new one (generation numbers can stay zero). `st_ino` is the FileID's own inode
/// number, not the node id, so it is the same on every mount and across remounts.
///
/// Every reply that hands the kernel a node (lookup, create, mkdir, readdirplus, …) counts one lookup; `forget`
/// gives them back, and a node whose count reaches zero is dropped. The root is never dropped.
struct InodeTable: Sendable {
    static let rootNode: UInt64 = 1

    struct Inode: Sendable {
        var id: FileID
        var lookupCount: UInt64
        /// Whether the attributes last handed to the kernel with this node were those of a regular file under
        /// `Limits.quickReadByteCountMax`: its open fetches the whole file in the same exchange (``FileHead``).
        var isSmallFile = false
    }

    private var inodes: [UInt64: Inode] = [InodeTable.rootNode: Inode(id: .root, lookupCount: 1)]
    private var nodesByID: [FileID: UInt64] = [.root: InodeTable.rootNode]
    private var nextNode: UInt64 = InodeTable.rootNode + 1
    let capacity: Int

    init(capacity: Int = Limits.mountInodesMax) {
        precondition(capacity > 1, "an inode table needs room for the root and one more")
        self.capacity = capacity
    }

    var count: Int { inodes.count }

    /// The FileID a node stands for, or nil for a node the kernel should not know (forgotten already).
    func id(of node: UInt64) -> FileID? {
        inodes[node]?.id
    }

    /// Whether `attributes` are those of a file whose open should fetch its head.
    static func isSmallFile(_ attributes: FileAttributes) -> Bool {
        attributes.type == .regular && attributes.size < UInt64(Limits.quickReadByteCountMax)
    }

    /// Whether `node` was a small regular file when the kernel last learned its attributes from a lookup.
    func isSmallFile(_ node: UInt64) -> Bool {
        inodes[node]?.isSmallFile ?? false
    }

    /// The node for `attributes`' file, counting one lookup: the caller is about to hand it to the kernel.
    mutating func remember(_ attributes: FileAttributes) throws -> UInt64 {
        let node = try remember(attributes.id)
        inodes[node]?.isSmallFile = Self.isSmallFile(attributes)
        return node
    }

    /// The node for `id`, counting one lookup: the caller is about to hand it to the kernel.
    mutating func remember(_ id: FileID) throws -> UInt64 {
        if let node = nodesByID[id] {
            inodes[node]!.lookupCount += 1
            return node
        }
        guard inodes.count < capacity else {
            throw FileSystemError(.init(rawValue: ENFILE), "the mount remembers \(capacity) inodes already")
        }
        let node = nextNode
        nextNode += 1
        inodes[node] = Inode(id: id, lookupCount: 1)
        nodesByID[id] = node
        return node
    }

    /// Takes back `count` lookups of `node`; the node goes when none are left. Unknown nodes are ignored: the
    /// kernel may forget a node whose lookup reply it never received (the request was interrupted).
    mutating func forget(_ node: UInt64, count: UInt64) {
        guard node != Self.rootNode, let inode = inodes[node] else { return }
        guard inode.lookupCount > count else {
            inodes[node] = nil
            nodesByID[inode.id] = nil
            return
        }
        inodes[node]!.lookupCount = inode.lookupCount - count
    }

    /// The lookups the kernel holds on `node` (0 for an unknown node), for tests.
    func lookupCount(of node: UInt64) -> UInt64 {
        inodes[node]?.lookupCount ?? 0
    }
}
