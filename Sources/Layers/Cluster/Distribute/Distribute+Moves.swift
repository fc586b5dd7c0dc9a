import Logging
import MortarCore
import MortarVolumeSpec
import NIOCore
import Synchronization

/// Moving files between children (a rebalance), and what every client does about files being moved.
///
/// A file moves from its holder to the child the newest layout generation places its name on, in three steps:
///
/// 1. **Copy.** The target gets the file under the hidden name `.mortar-moving.<FileID>` (``movingPrefix``: never
///    listed or found, refused as a client's name), same FileID: the data's extents only (holes stay holes), then
///    extended attributes. Lookups meanwhile still reach the holder. (Where the target already has the file's link
///    file, left by a rename, the copy is made in it: a link file stays one until the switch.)
/// 2. **Fence.** The holder's brick refuses new opens of the file and changes to it from every other connection
///    (``ControlRequest/fence(_:)``), and says whether anyone holds it open. An open file is left where it is
///    (skipped; a later rebalance moves it). A file whose name, size or times changed since the copy began is
///    copied again, up to `Limits.migrationAttemptsMax` times, then skipped.
/// 3. **Switch**, under the fence: owner, mode and times go to the copy, which then takes the file's name on the
///    target (a rename that refuses to replace; a link file instead stops being one when its mode changes) — from
///    here on it is the file; the holder's name is unlinked, a stale link file elsewhere goes, and the fence is
///    lifted. Should the holder refuse the unlink, the switch is undone: two copies never stay.
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
        let outcome = await migrateOnce(name, in: parent, context: context)
        if case .skipped(let reason) = outcome { logger.notice("left where it is: \(reason)") }
        return outcome
    }

    private func migrateOnce(_ name: String, in parent: FileID, context: OperationContext) async -> MigrationOutcome {
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
            return .skippedForNow("'\(name)' changed while it was copied, \(Limits.migrationAttemptsMax) times")
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
        let prepared = try await prepareCopy(
            name, in: parent, of: found, holder: holder, target: target, hasLinkFile: linkFileChild == target,
            context: context)
        guard let prepared else { return .skipped("'\(name)' on child \(target) is another file") }
        let copy = prepared.place
        let bytes: UInt64
        do {
            bytes = try await copyContent(of: found, from: holder, to: target, into: prepared.made?.file, context: context)
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
                openElsewhere: openElsewhere, copy: copy, copyAttributes: prepared.made?.attributes, bytes: bytes,
                context: context)
        } catch {
            await unfence(found.id, on: holder, context: context)
            throw error
        }
        await unfence(found.id, on: holder, context: context)
        return outcome
    }

    /// Where the copy is made on the target.
    enum CopyPlace {
        /// Under the hidden name `.mortar-moving.<FileID>` (``movingPrefix``), renamed to the file's name at the
        /// switch: the name never shows a copy that is not complete (a file made under it and given its link
        /// attribute afterwards would be, for one exchange, an empty file to every lookup and listing).
        case hidden(on: Int, name: String, isNew: Bool)
        /// In the file's link file there (made by a rename before), which stays a link file until the switch.
        case linkFile(on: Int)
    }

    /// The copy's place on the target, and the copy itself when it was just made (open for writing, empty).
    struct PreparedCopy {
        var place: CopyPlace
        var made: CreatedFile?
    }

    /// The copy's place on the target: the file's link file there if the lookup found one (`hasLinkFile`), else a
    /// hidden name (one an earlier move of the file left behind is taken again). Nil when the hidden name holds
    /// another file. A name made on the target meanwhile is found at the switch, whose rename does not replace.
    private func prepareCopy(
        _ name: String, in parent: FileID, of found: FileAttributes, holder: Int, target: Int, hasLinkFile: Bool,
        context: OperationContext
    ) async throws -> PreparedCopy? {
        let destination = children[target]
        if hasLinkFile {
            try await destination.setExtendedAttribute(
                Self.linkToAttribute, to: Array(String(holder).utf8), mode: .createOrReplace, of: found.id,
                context: context)
            return PreparedCopy(place: .linkFile(on: target))
        }
        let hidden = Self.movingPrefix + "\(found.id)"
        do {
            let created = try await destination.create(
                hidden, in: parent, id: found.id, permissions: 0o600, flags: [.write, .create, .exclusive],
                context: context)
            return PreparedCopy(place: .hidden(on: target, name: hidden, isNew: true), made: created)
        } catch let error as FileSystemError where error.code == .exists {
            // An earlier move of this file stopped after making its copy: that copy is taken again.
            let left = try await destination.lookup(hidden, in: parent, context: context)
            guard left.id == found.id else { return nil }
            return PreparedCopy(place: .hidden(on: target, name: hidden, isNew: false))
        }
    }

    /// Copies the file's data extents and extended attributes from `holder` to the copy on `target` (`made`, the
    /// copy just made and still open, or opened here); returns the bytes of data copied. A copy that was there
    /// before is emptied first: what an earlier move left must not show through the holes.
    private func copyContent(
        of found: FileAttributes, from holder: Int, to target: Int, into made: OpenFile?, context: OperationContext
    ) async throws -> UInt64 {
        let source = children[holder]
        let destination = children[target]
        let input: OpenFile
        do {
            input = try await source.open(found.id, flags: [.read, .noAccessTime], context: context)
        } catch {
            if let made { try? await destination.release(made, context: context) }  // cleanup: the open's error is reported
            throw error
        }
        let output: OpenFile
        do {
            if let made {
                output = made
            } else {
                output = try await destination.open(found.id, flags: [.write], context: context)
            }
        } catch {
            try? await source.release(input, context: context)  // cleanup: the open's error is the one to report
            throw error
        }
        var copied: UInt64 = 0
        do {
            if made == nil { try await destination.truncate(output, to: 0, context: context) }
            let end: UInt64
            (copied, end) = try await copyExtents(
                from: input, on: source, to: output, on: destination, size: found.size, context: context)
            // A hole at the end: the size, which no write set.
            if end < found.size { try await destination.truncate(output, to: found.size, context: context) }
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
    /// `SEEK_HOLE` its end, so holes are never read or written (a file of one block at most is copied whole: it
    /// has no hole worth two more exchanges). Returns the bytes copied and where the last extent ended.
    private func copyExtents(
        from input: OpenFile, on source: any FileOperations, to output: OpenFile, on destination: any FileOperations,
        size: UInt64, context: OperationContext
    ) async throws -> (copied: UInt64, end: UInt64) {
        var copied: UInt64 = 0
        var end: UInt64 = 0
        let segments =
            size <= Self.wholeCopyByteCountMax
            ? (size > 0 ? [0..<size] : [])
            : try await source.dataSegments(of: input, size: size, context: context)
        for segment in segments {
            end = segment.upperBound
            var position = segment.lowerBound
            while position < segment.upperBound {
                let count = Int(min(UInt64(Limits.ioByteCountMax), segment.upperBound - position))
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
        return (copied, end)
    }

    /// Under the holder's fence: skips a file someone holds open or that changed since the copy began, and
    /// otherwise makes the copy the file and removes it from the holder.
    private func switchOver(
        _ name: String, in parent: FileID, found: FileAttributes, holder: Int, target: Int, staleLink: Int?,
        openElsewhere: Int, copy: CopyPlace, copyAttributes: FileAttributes?, bytes: UInt64, context: OperationContext
    ) async throws -> MigrationOutcome {
        guard openElsewhere == 0 else {
            await abandonCopy(name, in: parent, copy, context: context)
            return .skippedForNow("'\(name)' is open (\(openElsewhere) opens); it moves once closed")
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
        // Owner first (a chown clears set-ID bits), then mode and times; then the copy takes the file's name on the
        // target (or, in a link file, stops being one): from here on it is the file.
        if copyAttributes.map({ ($0.userID, $0.groupID) != (now.userID, now.groupID) }) ?? true {
            _ = try await destination.setAttributes(
                AttributeChanges(userID: now.userID, groupID: now.groupID), of: found.id, context: context)
        }
        _ = try await destination.setAttributes(
            AttributeChanges(
                permissions: now.permissions, accessTime: .set(now.accessTime),
                modificationTime: .set(now.modificationTime)),
            of: found.id, context: context)
        if case .hidden(_, let hidden, _) = copy {
            do {
                try await destination.rename(hidden, in: parent, to: name, in: parent, flags: [.noReplace], context: context)
            } catch let error as FileSystemError where error.code == .exists {
                await abandonCopy(name, in: parent, copy, context: context)
                return .skipped("'\(name)' was made on child \(target) while the file was copied")
            }
        }
        do {
            try await children[holder].unlink(name, in: parent, context: context)
        } catch {
            // Two real copies must never stay: the target's goes back to what it was before the switch.
            await undoSwitch(name, in: parent, found.id, copy, holder: holder, context: context)
            throw error
        }
        if case .linkFile = copy {
            do {
                try await destination.removeExtendedAttribute(Self.linkToAttribute, of: found.id, context: context)
            } catch let error as FileSystemError where error.code == .noData {
                // Already gone: nothing to clean.
            }
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

    /// Undoes a copy that will not become the file: a hidden copy goes; a link file is emptied again. Failures are
    /// logged: a hidden copy is invisible, a link file still leads to the holder, and the next move takes either.
    private func abandonCopy(_ name: String, in parent: FileID, _ copy: CopyPlace, context: OperationContext) async {
        do {
            switch copy {
            case .hidden(let target, let hidden, _):
                try await children[target].unlink(hidden, in: parent, context: context)
            case .linkFile(let target):
                let found = try await children[target].lookup(name, in: parent, context: context)
                _ = try await children[target].setAttributes(AttributeChanges(size: 0), of: found.id, context: context)
            }
        } catch {
            logger.warning("could not undo the copy of '\(name)' in \(parent): \(error)")
        }
    }

    /// After the holder refused to let go of the name: the target's copy stops being the file (its name back to the
    /// hidden one and dropped, or back to an empty link file to the holder).
    private func undoSwitch(
        _ name: String, in parent: FileID, _ id: FileID, _ copy: CopyPlace, holder: Int, context: OperationContext
    ) async {
        do {
            switch copy {
            case .hidden(let target, let hidden, _):
                try await children[target].rename(name, in: parent, to: hidden, in: parent, flags: [.noReplace], context: context)
                await abandonCopy(name, in: parent, copy, context: context)
            case .linkFile(let target):
                _ = try await children[target].setAttributes(
                    AttributeChanges(permissions: Self.linkFilePermissions, size: 0), of: id, context: context)
                try await children[target].setExtendedAttribute(
                    Self.linkToAttribute, to: Array(String(holder).utf8), mode: .createOrReplace, of: id,
                    context: context)
            }
        } catch {
            logger.error("file \(id) '\(name)' in \(parent) has a copy on its new child and on child \(holder): \(error)")
        }
    }

    /// Files this small are copied with one read, without asking where their holes are.
    static let wholeCopyByteCountMax: UInt64 = 4096

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
