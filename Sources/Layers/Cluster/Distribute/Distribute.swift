import Logging
import MortarCore
import MortarVolumeSpec
import NIOCore
import Synchronization

/// The distribute layer (GlusterFS's DHT): spreads a volume's files over its children by a hash of their names.
///
/// - **Directories exist on every child**, with the same FileID. `makeDirectory`, `removeDirectory`, directory
///   renames, and `setAttributes` and extended-attribute changes of directories go to every child. A lookup that
///   finds a directory missing on some child creates it there (same FileID, permissions and owner).
/// - **Files live on exactly one child**: the one whose range in the parent's ``Layout`` covers the name's hash.
///   A file renamed (or hard-linked) to a name that hashes elsewhere stays where its data is, and the hashed child
///   gets a *link file* for the name: empty, mode 0o1000, with the extended attribute `trusted.mortar.linkto` =
///   the holding child's index in decimal. Lookups follow link files; listings hide them.
/// - FileID-addressed operations find their child through a bounded placement cache, learned from lookups,
///   creates and listings; on a miss every child is asked.
/// - Open files carry this layer's own handle numbers, each mapped to the child and the child's handle.
///
/// Operations that touch several children are not atomic. When a child fails part way, the operation throws that
/// child's error and the children already changed stay changed: a directory made on some children is completed by
/// the next lookup; a removal or rename stops where it failed, and the error names the child. Listings take
/// directories from child 0, so a directory missing there is listed again once a lookup has repaired it.
///
/// **Growing.** A volume's placement has generations (``LayoutHistory``): ``grow(adding:history:)`` appends
/// children and makes the newest generation the one new names go by. Children are never renumbered, so an index
/// taken from an earlier snapshot of ``children`` stays valid. A name the newest generation places on a child that
/// does not have it yet (its file not moved there) is looked for where each earlier generation placed it, newest
/// first, before lookup-everywhere; a name created in a directory the new child does not have yet goes where the
/// previous generation places it.
public final class Distribute: FileOperations {
    let options: DistributeOptions
    let logger: Logger
    let state = Mutex(DistributeState())
    let topology: Mutex<DistributeTopology>
    /// Asks the owner for a newer layout (see ``whenStale(_:)``); nil when nobody can fetch the volume's spec.
    let staleness = Mutex<(@Sendable () async -> Void)?>(nil)

    /// The children, in order; only ever appended to.
    public var children: [any FileOperations] {
        topology.withLock { $0.children }
    }

    /// The most children this layer takes: a volume's bricks, and no more than a listing cookie can name.
    static let childCountMax = min(Limits.bricksPerVolumeMax, 1 << DirectoryCookie.childIndexBits)

    /// Name of the extended attribute of a link file that names the child holding the data.
    public static let linkToAttribute = "trusted.mortar.linkto"
    /// Permissions that mark a link file (sticky bit only).
    public static let linkFilePermissions: UInt32 = 0o1000
    /// Names beginning with this are a rebalance's copies in the making (`.mortar-moving.<FileID>`): never listed,
    /// never found by name, and refused as new names, so a copy appears under its real name only when complete.
    public static let movingPrefix = ".mortar-moving."

    /// EINVAL for a name a client may not make: one reserved for a rebalance's copies.
    static func refuseReserved(_ name: String) throws(FileSystemError) {
        guard !name.hasPrefix(movingPrefix) else {
            throw FileSystemError.invalidArgument("names beginning with '\(movingPrefix)' are reserved for rebalancing")
        }
    }

    /// A distribute layer over `children`. Throws EINVAL when `options.layout` does not end with as many children.
    public init(children: [any FileOperations], options: DistributeOptions = DistributeOptions(), logger: Logger)
        throws(FileSystemError)
    {
        guard !children.isEmpty, children.count <= Self.childCountMax else {
            throw FileSystemError.invalidArgument("distribute layer with \(children.count) children")
        }
        let history = options.layout ?? LayoutHistory(initialChildCount: children.count)
        try history.validate(childCount: children.count)
        self.options = options
        self.logger = logger
        topology = Mutex(DistributeTopology(children: children, history: history))
    }

    /// Appends `added` children under `history`, whose newest generation places names over all of them; new
    /// names go by it at once. Throws EINVAL when `history` does not extend the current one by exactly them.
    public func grow(adding added: [any FileOperations], history: LayoutHistory) throws(FileSystemError) {
        try topology.withLock { (topology) throws(FileSystemError) in
            let current = topology.history
            try history.validate(childCount: topology.children.count + added.count)
            guard !added.isEmpty, topology.children.count + added.count <= Self.childCountMax, history.initialChildCount == current.initialChildCount,
                history.changes.starts(with: current.changes)
            else {
                throw FileSystemError.invalidArgument("layout history \(history) does not extend \(current)")
            }
            topology = DistributeTopology(children: topology.children + added, history: history)
        }
        logger.info("distribute grew to \(history.childCount) children (generation \(history.generationCount))")
    }

    /// Has `refresh` asked for whenever this layer may be behind the volume (another client may have grown it):
    /// before it places a new name, when a name is found on no child (the lookup is then tried once more if the
    /// layer grew), and when a listing starts. The owner bounds how often it really asks the manager. Nil stops
    /// asking (the owner's closure usually holds the stack that holds this layer: shutting down breaks the cycle).
    public func whenStale(_ refresh: (@Sendable () async -> Void)?) {
        staleness.withLock { $0 = refresh }
    }

    /// Lets the owner bring this layer up to date if it is due to ask (see ``whenStale(_:)``).
    func catchUp() async {
        guard let refresh = staleness.withLock({ $0 }) else { return }
        await refresh()
    }

    /// Every generation of `directory`'s layout, oldest first: the last is the one new names go by.
    func layouts(of directory: FileID) -> [Layout] {
        topology.withLock { $0.layouts(of: directory) }
    }

    func layout(of directory: FileID) -> Layout {
        let generations = layouts(of: directory)
        return generations[generations.count - 1]
    }

    /// The children earlier generations placed `name` on, newest generation first, without repeats and without
    /// the newest generation's own child.
    func earlierChildren(_ name: String, in parent: FileID) -> [Int] {
        let generations = layouts(of: parent)
        guard generations.count > 1 else { return [] }
        let hash = Layout.nameHash(name)
        var seen: Set<Int> = [generations[generations.count - 1].child(forHash: hash)]
        return generations.dropLast().reversed().map { $0.child(forHash: hash) }.filter { seen.insert($0).inserted }
    }

    func hashedChild(_ name: String, in parent: FileID) -> Int {
        layout(of: parent).child(for: name)
    }

    // MARK: Link files

    /// Whether `attributes` look like a link file's (``linkTarget(of:on:context:)`` then asks the child). Any
    /// size: a file a rebalance is copying is a link file with data until the move's switch.
    static func mayBeLinkFile(_ attributes: FileAttributes) -> Bool {
        attributes.type == .regular && attributes.permissions == linkFilePermissions
    }

    /// The child a link file points at, or `nil` when `attributes` are not those of a link file on `child`.
    func linkTarget(of attributes: FileAttributes, on child: Int, context: OperationContext) async throws -> Int? {
        guard Self.mayBeLinkFile(attributes) else { return nil }
        let value: [UInt8]
        do {
            value = try await children[child].extendedAttribute(
                Self.linkToAttribute, of: attributes.id, context: context)
        } catch let error as FileSystemError where error.code == .noData || error.code == .notFound {
            return nil
        }
        guard let target = Int(String(decoding: value, as: UTF8.self)), children.indices.contains(target) else {
            throw FileSystemError.inputOutput("link file \(attributes.id) on child \(child) names no child: \(value)")
        }
        return target
    }

    /// Makes `name` on its hashed child point at `holder`, replacing any link file there. Nothing is needed
    /// when the hashed child is the holder.
    func placeLinkFile(
        _ name: String, in parent: FileID, id: FileID, holder: Int, context: OperationContext
    ) async throws {
        let hashed = hashedChild(name, in: parent)
        guard hashed != holder else { return }
        try await removeLinkFile(name, in: parent, keeping: holder, context: context)
        let child = children[hashed]
        // Only ENOENT means the file has no link file here yet; an EIO or a brick gone fails the placement
        // (creating one anyway would fail on EEXIST at best, and hide the error at worst).
        if try await FileSystemError.nilIfNotFound({ try await child.attributes(of: id, context: context) }) != nil {
            // Another name of the same file already has a link file here: link to it, as the data is linked.
            _ = try await child.link(id, as: name, in: parent, context: context)
            return
        }
        let created: CreatedFile
        do {
            created = try await child.create(
                name, in: parent, id: id, permissions: Self.linkFilePermissions, flags: [.write, .create, .exclusive],
                context: context)
        } catch where isNotFound(error) {
            // The hashed child joined after the directory was made and lacks it still: no link file can go there.
            // Lookups find the name on its holder anyway (earlier generations, then every child); a rebalance
            // moves the file onto its hashed child later.
            logger.notice("no link file for '\(name)' in \(parent): child \(hashed) lacks the directory yet")
            return
        }
        try await child.release(created.file, context: context)
        try await child.setExtendedAttribute(
            Self.linkToAttribute, to: Array(String(holder).utf8), mode: .createOrReplace, of: id, context: context)
    }

    /// Removes the link file for `name` from its hashed child, if there is one and that child is not `holder`.
    func removeLinkFile(_ name: String, in parent: FileID, keeping holder: Int?, context: OperationContext) async throws
    {
        let hashed = hashedChild(name, in: parent)
        guard hashed != holder else { return }
        // Only ENOENT means there is no link file to remove; any other error propagates, or a rename would
        // leave a stale link file behind, pointing at the wrong child.
        guard
            let attributes = try await FileSystemError.nilIfNotFound({
                try await children[hashed].lookup(name, in: parent, context: context)
            }),
            try await linkTarget(of: attributes, on: hashed, context: context) != nil
        else { return }
        try await children[hashed].unlink(name, in: parent, context: context)
    }

    // MARK: Fan-out helpers

    /// Runs `body` on every child in `order` (default: index order), stopping at the first error, which is
    /// rethrown with the child's index added to its message.
    func everyChild<Result: Sendable>(
        _ operation: String, order: [Int]? = nil, _ body: (any FileOperations) async throws -> Result
    ) async throws -> [Result] {
        let order = order ?? Array(children.indices)
        var results: [Result] = []
        for index in order {
            do {
                results.append(try await body(children[index]))
            } catch {
                let error = FileSystemError.wrapping(error)
                if index != order.first {
                    logger.warning("\(operation) failed on child \(index) after earlier children changed: \(error)")
                }
                throw FileSystemError(error.code, "\(operation) on child \(index): \(error.message)")
            }
        }
        return results
    }
}

/// Whether an error is ENOENT.
func isNotFound(_ error: any Error) -> Bool {
    (error as? FileSystemError)?.code == .notFound
}
