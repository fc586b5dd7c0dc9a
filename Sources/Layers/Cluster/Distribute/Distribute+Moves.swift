import Logging
import MortarCore
import MortarVolumeSpec
import NIOCore
import Synchronization

/// Moving files between children (a rebalance), and what every client does about files being moved.
///
/// A file moves from its holder to the child the newest layout generation places its name on, in three steps:
///
/// 1. **Copy.** The target gets the file in link-file shape — same FileID, mode 0o1000, `trusted.mortar.linkto`
///    naming the holder — so lookups through it still reach the holder while the data is copied: the data's
///    extents only (holes stay holes), then extended attributes.
/// 2. **Fence.** The holder's brick refuses new opens of the file and changes to it from every other connection
///    (``ControlRequest/fence(_:)``), and says whether anyone holds it open. An open file is left where it is
///    (skipped; a later rebalance moves it). A file whose name, size or times changed since the copy began is
///    skipped too.
/// 3. **Switch**, under the fence: owner, mode and times go to the copy (the moment its mode is no longer 0o1000
///    it is the file), the link attribute goes, the holder's name is unlinked, a stale link file elsewhere goes,
///    and the fence is lifted.
///
/// Clients meet a move as EINPROGRESS from the fenced holder (``waitingForMoves(of:_:)`` pauses and asks again)
/// or as ENOENT from a holder they remembered (``followingMoves(of:from:context:_:)`` asks where it went).
extension Distribute {
    /// Runs `body` again while a rebalance fences what it acts on, forgetting where `id` lives (when given) so
    /// the next try asks; after `Limits.migrationWaitMilliseconds` the fence's error becomes ETIMEDOUT.
    func waitingForMoves<Result: Sendable>(
        of id: FileID? = nil, _ body: () async throws -> Result
    ) async throws -> Result {
        let deadline = ContinuousClock.now + .milliseconds(Limits.migrationWaitMilliseconds)
        while true {
            do {
                return try await body()
            } catch let error as FileSystemError where error.code == .beingMoved {
                guard ContinuousClock.now < deadline else {
                    throw FileSystemError(
                        .timedOut, "\(error.message), still after \(Limits.migrationWaitMilliseconds) ms")
                }
                if let id { state.withLock { $0.forget(id) } }
                do {
                    try await Task.sleep(for: .milliseconds(Limits.migrationRetryPauseMilliseconds))
                } catch {
                    throw FileSystemError(.canceled, "cancelled while waiting for a file being moved")
                }
            }
        }
    }

    /// Runs `body` on `index`, the child this layer remembers holding `id`; when that child answers ENOENT the
    /// file may have moved: where it lives is asked afresh, and `body` runs there if that is another child.
    func followingMoves<Result: Sendable>(
        of id: FileID, from index: Int, context: OperationContext, _ body: (Int) async throws -> Result
    ) async throws -> Result {
        do {
            return try await body(index)
        } catch where isNotFound(error) {
            state.withLock { $0.forget(id) }
            guard case .child(let moved) = try await placement(of: id, context: context), moved != index else {
                throw error
            }
            logger.debug("file \(id) moved from child \(index) to child \(moved)")
            return try await body(moved)
        }
    }

    /// Moves `name` in `parent` to the child the newest layout places it on, if it lives elsewhere. Never throws:
    /// what went wrong is the outcome's reason, and the file stays readable where it was.
    public func migrate(_ name: String, in parent: FileID, context: OperationContext) async -> MigrationOutcome {
        do {
            // A file changed during its copy is copied again at once, a few times: it may just have been touched.
            for _ in 1..<Limits.migrationAttemptsMax {
                do {
                    return try await move(name, in: parent, context: context)
                } catch is ChangedDuringCopy {
                    continue
                }
            }
            return try await move(name, in: parent, context: context)
        } catch is ChangedDuringCopy {
            return .skipped("'\(name)' changed while it was copied, \(Limits.migrationAttemptsMax) times; it moves next time")
        } catch {
            let failure = FileSystemError.wrapping(error)
            logger.warning("could not move '\(name)' in \(parent): \(failure)")
            return .failed("'\(name)' in \(parent): \(failure)")
        }
    }

    private func move(_ name: String, in parent: FileID, context: OperationContext) async throws -> MigrationOutcome
    {
        guard case .object(let holder, let found, let linkFileChild) = try await resolve(
            name, in: parent, context: context)
        else { return .inPlace }  // directories are on every child
        let target = hashedChild(name, in: parent)
        guard holder != target else { return .inPlace }
        guard found.type == .regular else { return .skipped("'\(name)' is a \(found.type); only files move yet") }
        guard found.linkCount == 1 else {
            return .skipped("'\(name)' has \(found.linkCount) hard links; they would have to move together")
        }
        let copy = try await prepareCopy(name, in: parent, of: found, holder: holder, target: target, context: context)
        guard let copy else { return .skipped("'\(name)' on child \(target) is another file") }
        let bytes: UInt64
        do {
            bytes = try await copyContent(of: found, from: holder, to: target, context: context)
        } catch {
            await abandonCopy(name, in: parent, copy, context: context)
            throw error
        }
        let source = children[holder]
        guard case .fenced(let openElsewhere) = try await source.control(.fence(found.id), context: context) else {
            throw FileSystemError.protocolError("child \(holder) answered a fence without a count of opens")
        }
        let outcome: MigrationOutcome
        do {
            outcome = try await switchOver(
                name, in: parent, found: found, holder: holder, target: target, staleLink: linkFileChild,
                openElsewhere: openElsewhere, copy: copy, bytes: bytes, context: context)
        } catch {
            await unfence(found.id, on: holder, context: context)
            throw error
        }
        await unfence(found.id, on: holder, context: context)
        return outcome
    }

    /// How the copy's place on the target came to be: made for this move, or a link file that was there.
    enum CopyPlace {
        case made(on: Int)
        case linkFile(on: Int)
    }

    /// The target's entry for the copy: its link file for the name, or a new one. Nil when the target holds
    /// another file under the name (not this file's link file).
    private func prepareCopy(
        _ name: String, in parent: FileID, of found: FileAttributes, holder: Int, target: Int,
        context: OperationContext
    ) async throws -> CopyPlace? {
        let destination = children[target]
        let place: CopyPlace
        if let existing = try await FileSystemError.nilIfNotFound({
            try await destination.lookup(name, in: parent, context: context)
        }) {
            guard existing.id == found.id, try await linkTarget(of: existing, on: target, context: context) != nil
            else { return nil }
            place = .linkFile(on: target)
        } else {
            let created = try await destination.create(
                name, in: parent, id: found.id, permissions: Self.linkFilePermissions,
                flags: [.write, .create, .exclusive], context: context)
            try await destination.release(created.file, context: context)
            place = .made(on: target)
        }
        try await destination.setExtendedAttribute(
            Self.linkToAttribute, to: Array(String(holder).utf8), mode: .createOrReplace, of: found.id,
            context: context)
        return place
    }

    /// Copies the file's data extents and extended attributes from `holder` to the copy on `target`; returns the
    /// bytes of data copied. The copy is emptied first: a copy an earlier move abandoned must not show through
    /// the holes.
    private func copyContent(
        of found: FileAttributes, from holder: Int, to target: Int, context: OperationContext
    ) async throws -> UInt64 {
        let source = children[holder]
        let destination = children[target]
        let input = try await source.open(found.id, flags: [.read, .noAccessTime], context: context)
        let output: OpenFile
        do {
            output = try await destination.open(found.id, flags: [.write], context: context)
        } catch {
            try? await source.release(input, context: context)  // cleanup: the open's error is the one to report
            throw error
        }
        var copied: UInt64 = 0
        do {
            try await destination.truncate(output, to: 0, context: context)
            copied = try await copyExtents(from: input, on: source, to: output, on: destination, size: found.size,
                                           context: context)
            try await destination.truncate(output, to: found.size, context: context)
            for attribute in try await source.extendedAttributeNames(of: found.id, context: context)
            where !attribute.hasPrefix("trusted.mortar.") {
                let value = try await source.extendedAttribute(attribute, of: found.id, context: context)
                try await destination.setExtendedAttribute(
                    attribute, to: value, mode: .createOrReplace, of: found.id, context: context)
            }
        } catch {
            try? await source.release(input, context: context)  // cleanup: the copy's error is the one to report
            try? await destination.release(output, context: context)
            throw error
        }
        try await source.release(input, context: context)
        try await destination.release(output, context: context)
        return copied
    }

    /// Copies `[0, size)` of `input` to `output` extent by extent: `SEEK_DATA` finds each extent's start and
    /// `SEEK_HOLE` its end, so holes are never read or written.
    private func copyExtents(
        from input: OpenFile, on source: any FileOperations, to output: OpenFile, on destination: any FileOperations,
        size: UInt64, context: OperationContext
    ) async throws -> UInt64 {
        var copied: UInt64 = 0
        for segment in try await source.dataSegments(of: input, size: size, context: context) {
            let (start, end) = (segment.lowerBound, segment.upperBound)
            var position = start
            while position < end {
                let count = Int(min(UInt64(Limits.ioByteCountMax), end - position))
                let data = try await source.read(from: input, at: position, count: count, context: context)
                guard data.readableBytes > 0 else {
                    throw FileSystemError.inputOutput("file \(input.id) ended at \(position) while being copied")
                }
                let length = UInt64(data.readableBytes)
                var remaining = data
                var at = position
                while remaining.readableBytes > 0 {
                    let written = try await destination.write(remaining, to: output, at: at, context: context)
                    guard written > 0 else {
                        throw FileSystemError.inputOutput("file \(output.id) took no bytes at \(at) while being copied")
                    }
                    remaining.moveReaderIndex(forwardBy: min(written, remaining.readableBytes))
                    at += UInt64(written)
                }
                position += length
                copied += length
            }
        }
        return copied
    }

    /// Under the holder's fence: skips a file someone holds open or that changed since the copy began, and
    /// otherwise makes the copy the file and removes it from the holder.
    private func switchOver(
        _ name: String, in parent: FileID, found: FileAttributes, holder: Int, target: Int, staleLink: Int?,
        openElsewhere: Int, copy: CopyPlace, bytes: UInt64, context: OperationContext
    ) async throws -> MigrationOutcome {
        guard openElsewhere == 0 else {
            await abandonCopy(name, in: parent, copy, context: context)
            return .skipped("'\(name)' is open (\(openElsewhere) opens); it moves once closed")
        }
        let now = try await FileSystemError.nilIfNotFound {
            try await children[holder].lookup(name, in: parent, context: context)
        }
        guard let now, now.id == found.id, now.size == found.size, now.modificationTime == found.modificationTime,
            now.changeTime == found.changeTime
        else {
            await abandonCopy(name, in: parent, copy, context: context)
            throw ChangedDuringCopy()
        }
        let destination = children[target]
        // Owner first (a chown clears set-ID bits), then mode and times: from here on the copy is the file.
        _ = try await destination.setAttributes(
            AttributeChanges(userID: now.userID, groupID: now.groupID), of: found.id, context: context)
        _ = try await destination.setAttributes(
            AttributeChanges(
                permissions: now.permissions, accessTime: .set(now.accessTime),
                modificationTime: .set(now.modificationTime)),
            of: found.id, context: context)
        do {
            try await children[holder].unlink(name, in: parent, context: context)
        } catch {
            // Two real copies must never stay: the target's goes back to being a link file.
            await restoreLinkFile(found.id, pointingAt: holder, on: target, context: context)
            throw error
        }
        do {
            try await destination.removeExtendedAttribute(Self.linkToAttribute, of: found.id, context: context)
        } catch let error as FileSystemError where error.code == .noData {
            // Already gone: nothing to clean.
        }
        if let staleLink, staleLink != target {
            do {
                try await children[staleLink].unlink(name, in: parent, context: context)
            } catch where isNotFound(error) {
                // Gone already.
            }
        }
        state.withLock { $0.learn(found.id, .child(target)) }
        return .moved(bytes: bytes)
    }

    /// Undoes a copy that will not become the file: a link file this move made goes; one that was there is
    /// emptied again. Failures are logged: the copy is still a link file to the holder, which lookups follow.
    private func abandonCopy(_ name: String, in parent: FileID, _ copy: CopyPlace, context: OperationContext) async {
        do {
            switch copy {
            case .made(let target):
                try await children[target].unlink(name, in: parent, context: context)
            case .linkFile(let target):
                let found = try await children[target].lookup(name, in: parent, context: context)
                _ = try await children[target].setAttributes(AttributeChanges(size: 0), of: found.id, context: context)
            }
        } catch {
            logger.warning("could not undo the copy of '\(name)' in \(parent): \(error)")
        }
    }

    private func restoreLinkFile(_ id: FileID, pointingAt holder: Int, on target: Int, context: OperationContext) async {
        do {
            _ = try await children[target].setAttributes(
                AttributeChanges(permissions: Self.linkFilePermissions, size: 0), of: id, context: context)
            try await children[target].setExtendedAttribute(
                Self.linkToAttribute, to: Array(String(holder).utf8), mode: .createOrReplace, of: id, context: context)
        } catch {
            logger.error("file \(id) has a copy on child \(target) and on child \(holder): \(error)")
        }
    }

    /// The file's name, size or times changed between the start of its copy and the fence.
    struct ChangedDuringCopy: Error {}

    private func unfence(_ id: FileID, on holder: Int, context: OperationContext) async {
        do {
            _ = try await children[holder].control(.unfence(id), context: context)
        } catch {
            // The fence goes with the connection anyway; until then clients wait for it.
            logger.warning("could not lift the fence of \(id) on child \(holder): \(error)")
        }
    }
}
