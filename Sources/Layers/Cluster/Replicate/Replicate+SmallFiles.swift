import Logging
import MortarCore
import MortarMembership

/// Reads of small files in one round trip on a replicated volume. A client opening a file by path asks the
/// directory's primary, which answers for the name; but a file's bytes come from the file's own primary, which is
/// another member for two files in three on a replica-3 set — a second exchange, one after the other. Asked beside
/// the directory's primary at the same time, every other in-sync member looks the name up too, and the one that is
/// the file's primary opens it and reads its head (a member opens only files it is the primary of, so no other
/// member opens anything: see `ReplicaMemberLayer.lookupAndRead`).
extension Replicate {
    /// An open a member beside the directory's primary made, with that member.
    struct BesideOpen: Sendable {
        var member: Int
        var opened: OpenedFile
    }

    /// Asks `primary` (the directory's) and, beside it, every other in-sync member of the view `context` is stamped
    /// with. Returns the primary's answer, and the open of the member that is the file's primary when that is
    /// another member and it opened the file the primary named. Side answers are waited for only until that
    /// member's has come; the others are cancelled (they open nothing, and should a rename racing the lookup have
    /// made one open something, its connection releases the late answer's file) — and a side request that fails
    /// just leaves the caller to open the file by FileID.
    func lookUpAndReadBeside(
        _ name: String, in parent: FileID, flags: OpenFlags, count: Int, primary: Int, context: OperationContext
    ) async throws -> (FoundFile, BesideOpen?) {
        let view = try membership.view(ofSet: setIndex)
        let others = view.epoch == context.replication.epoch ? view.inSyncMembers.filter { $0 != primary } : []
        guard !others.isEmpty else {
            return (try await children[primary].lookupAndRead(name, in: parent, flags: flags, count: count, context: context), nil)
        }
        return try await withThrowingTaskGroup(of: (Int, FoundFile?).self) { group in
            for other in others {
                group.addTask {
                    // A side answer only saves an exchange: a member that fails (or refuses the epoch) leaves the
                    // file to be opened by FileID on its primary, which reports any error that matters.
                    let found = try? await self.children[other].lookupAndRead(
                        name, in: parent, flags: flags, count: count, context: context)
                    return (other, found)
                }
            }
            let found = try await children[primary].lookupAndRead(
                name, in: parent, flags: flags, count: count, context: context)
            guard found.opened == nil, found.attributes.type == .regular,
                let filePrimary = view.primary(for: found.attributes.id), others.contains(filePrimary)
            else {
                group.cancelAll()
                return (found, nil)
            }
            var beside: BesideOpen?
            for try await (member, answer) in group {
                guard let opened = answer?.opened else {
                    if member == filePrimary { break }
                    continue
                }
                // The member opened what it found under the name; it is the open wanted only if that is the file
                // the directory's primary named (a rename racing this lookup could have shown it another).
                if member == filePrimary, answer?.attributes.id == found.attributes.id {
                    beside = BesideOpen(member: member, opened: opened)
                    break
                }
                await releaseBeside(opened.file, on: member, context: context)
                if member == filePrimary { break }
            }
            group.cancelAll()
            return (found, beside)
        }
    }

    /// Gives back an open a side member made that is not used. Its failure is only logged: the member releases a
    /// connection's files when the connection goes.
    private func releaseBeside(_ file: OpenFile, on member: Int, context: OperationContext) async {
        do {
            try await children[member].release(file, context: context)
        } catch {
            logger.debug("release of \(file.id) on member \(member), opened beside the directory's primary, failed: \(error)")
        }
    }
}
