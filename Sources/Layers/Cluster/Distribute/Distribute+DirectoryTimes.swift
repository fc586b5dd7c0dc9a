import Logging
import MortarCore

/// Every child holds every directory, and a directory's attributes are read from child 0 (`attributes`, listings
/// and lookups all take child 0's copy). An entry made or removed on another child changes only that child's copy
/// of the parent, so the parent's modification and change times are moved on child 0 as well: otherwise a file
/// created on child 1 would leave its directory's mtime as it was, and tools that compare directory times (tar's
/// "file changed as we read it", rsync, make) would see other values than a local file system gives.
extension Distribute {
    /// Moves `directory`'s times to now on child 0 after an entry changed on `child`.
    func touchDirectory(_ directory: FileID, changedOn child: Int, context: OperationContext) async {
        guard child != 0 else { return }
        do {
            _ = try await children[0].setAttributes(
                AttributeChanges(modificationTime: .now), of: directory, context: context)
        } catch {
            logger.debug("could not move the times of directory \(directory) on child 0: \(error)")
        }
    }

    public func rename(
        _ name: String, in parent: FileID, to newName: String, in newParent: FileID, flags: RenameFlags,
        context: OperationContext
    ) async throws {
        // A rebalance may hold the file fenced for a moment: the rename waits and starts again.
        try await waitingForMoves {
            try await moveEntry(name, in: parent, to: newName, in: newParent, flags: flags, context: context)
        }
        guard children.count > 1 else { return }
        await touchDirectory(parent, changedOn: 1, context: context)
        if newParent != parent { await touchDirectory(newParent, changedOn: 1, context: context) }
    }
}
