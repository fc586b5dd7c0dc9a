import Logging
import MortarCore
import MortarVolumeSpec
import Synchronization

/// What a name in a directory turned out to be.
enum Resolution: Sendable {
    case directory(FileAttributes)
    /// A file (or link or special file) whose data is on `child`; `linkFileChild` holds a link file for the name.
    case object(child: Int, attributes: FileAttributes, linkFileChild: Int?)

    var attributes: FileAttributes {
        switch self {
        case .directory(let attributes), .object(_, let attributes, _): attributes
        }
    }
}

extension Distribute {
    /// Finds `name` in `parent`: on its hashed child (following a link file), else, when `lookupEverywhere` is on,
    /// on any child. Repairs a directory missing on some children and learns the placement.
    func resolve(_ name: String, in parent: FileID, context: OperationContext) async throws -> Resolution {
        try EntryName.validate(name)
        guard !name.hasPrefix(Self.movingPrefix) else {
            throw FileSystemError.notFound("no entry '\(name)' in \(parent): the name is a rebalance's")
        }
        let known = children.count
        do {
            return try await resolveOnce(name, in: parent, context: context)
        } catch where isNotFound(error) {
            // Found nowhere this layer knows: another client may have grown the volume and put it on a child this
            // one has not heard of. Ask once (the owner bounds how often it asks the manager) and try again if so.
            await catchUp()
            guard children.count > known else { throw error }
            return try await resolveOnce(name, in: parent, context: context)
        }
    }

    private func resolveOnce(_ name: String, in parent: FileID, context: OperationContext) async throws -> Resolution {
        let hashed = hashedChild(name, in: parent)
        var skipped: Set<Int> = []
        do {
            let attributes = try await children[hashed].lookup(name, in: parent, context: context)
            if let resolution = try await classify(attributes, name: name, in: parent, on: hashed, context: context) {
                return resolution
            }
            skipped.insert(hashed)  // a link file whose target has lost the name
        } catch where isNotFound(error) {
            skipped.insert(hashed)
        }
        // Where earlier generations of the layout put it: a file not moved since the volume grew.
        for earlier in earlierChildren(name, in: parent) {
            skipped.insert(earlier)
            guard let attributes = try await lookupIfPresent(name, in: parent, on: earlier, context: context),
                let resolution = try await classify(attributes, name: name, in: parent, on: earlier, context: context)
            else { continue }
            return resolution
        }
        guard options.lookupEverywhere else {
            throw FileSystemError.notFound("no entry '\(name)' in \(parent) on its hashed child \(hashed)")
        }
        for index in children.indices where !skipped.contains(index) {
            guard let attributes = try await lookupIfPresent(name, in: parent, on: index, context: context),
                try await linkTarget(of: attributes, on: index, context: context) == nil
            else { continue }
            if let resolution = try await classify(attributes, name: name, in: parent, on: index, context: context) {
                return resolution
            }
        }
        throw FileSystemError.notFound("no entry '\(name)' in directory \(parent) on any child")
    }

    private func lookupIfPresent(
        _ name: String, in parent: FileID, on child: Int, context: OperationContext
    ) async throws -> FileAttributes? {
        do {
            return try await children[child].lookup(name, in: parent, context: context)
        } catch where isNotFound(error) {
            return nil
        }
    }

    /// Turns what `child` reported for `name` into a resolution; `nil` for a link file that leads nowhere.
    private func classify(
        _ attributes: FileAttributes, name: String, in parent: FileID, on child: Int, context: OperationContext
    ) async throws -> Resolution? {
        if attributes.type == .directory {
            state.withLock { $0.learn(attributes.id, .everyChild) }
            await repairDirectory(name, in: parent, attributes: attributes, foundOn: child, context: context)
            // Child 0's copy speaks for a directory (see Distribute+DirectoryTimes). If child 0 cannot answer,
            // the copy found here is still the directory's real FileID, type and mode (only its times may lag), so
            // it answers instead: a lookup need not fail because one child is down.
            guard child != 0, let first = try? await children[0].attributes(of: attributes.id, context: context)
            else { return .directory(attributes) }
            return .directory(first)
        }
        guard let target = try await linkTarget(of: attributes, on: child, context: context) else {
            state.withLock { $0.learn(attributes.id, .child(child)) }
            return .object(child: child, attributes: attributes, linkFileChild: nil)
        }
        guard target != child,
            let real = try await lookupIfPresent(name, in: parent, on: target, context: context),
            try await linkTarget(of: real, on: target, context: context) == nil
        else {
            logger.warning(
                "link file '\(name)' in \(parent) on child \(child) points at child \(target), which lacks it")
            return nil
        }
        if real.type == .directory { return nil }
        state.withLock { $0.learn(real.id, .child(target)) }
        return .object(child: target, attributes: real, linkFileChild: child)
    }

    /// Creates a directory on the children that lack it, with the FileID, permissions and owner it has on
    /// `foundOn`. Failures are logged, not thrown: the lookup itself succeeded, and the next lookup tries again.
    func repairDirectory(
        _ name: String, in parent: FileID, attributes: FileAttributes, foundOn: Int, context: OperationContext
    ) async {
        for index in children.indices where index != foundOn {
            let child = children[index]
            do {
                _ = try await child.lookup(name, in: parent, context: context)
            } catch where isNotFound(error) {
                do {
                    _ = try await child.makeDirectory(
                        name, in: parent, id: attributes.id, permissions: attributes.permissions, context: context)
                    _ = try await child.setAttributes(
                        AttributeChanges(userID: attributes.userID, groupID: attributes.groupID), of: attributes.id,
                        context: context)
                    logger.info("repaired directory '\(name)' (\(attributes.id)) missing on child \(index)")
                } catch {
                    logger.warning(
                        "could not repair directory '\(name)' (\(attributes.id)) on child \(index): \(error)")
                }
            } catch {
                logger.warning("could not check directory '\(name)' on child \(index): \(error)")
            }
        }
    }

    /// Where `id` lives: from the cache, else by asking every child (skipping link files, which share the FileID
    /// of the file they point at).
    func placement(of id: FileID, context: OperationContext) async throws -> Placement {
        if id == .root { return .everyChild }
        if let known = state.withLock({ $0.placements[id] }) { return known }
        var firstError: (any Error)?
        for index in children.indices {
            do {
                let attributes = try await children[index].attributes(of: id, context: context)
                let placement: Placement
                if attributes.type == .directory {
                    placement = .everyChild
                } else if try await linkTarget(of: attributes, on: index, context: context) != nil {
                    continue
                } else {
                    placement = .child(index)
                }
                state.withLock { $0.learn(id, placement) }
                return placement
            } catch {
                if !isNotFound(error) { firstError = firstError ?? error }
            }
        }
        if let firstError { throw firstError }
        throw FileSystemError.notFound("no child has FileID \(id)")
    }

    /// The child to ask about `id`: its holder, or for a directory the first child that has it.
    func readingChild(for id: FileID, context: OperationContext) async throws -> Int {
        switch try await placement(of: id, context: context) {
        case .child(let index): return index
        case .everyChild: return 0
        }
    }

    /// Runs a query on the child that holds `id`; for a directory on child 0, then on the next children while
    /// they answer ENOENT (a directory not yet repaired there).
    func query<Result: Sendable>(
        _ id: FileID, context: OperationContext, _ body: (any FileOperations) async throws -> Result
    ) async throws -> Result {
        try await waitingForMoves(of: id) {
            switch try await placement(of: id, context: context) {
            case .child(let index):
                return try await followingMoves(of: id, from: index, context: context) { try await body(children[$0]) }
            case .everyChild:
                return try await queryDirectory(body)
            }
        }
    }

    /// A directory's query: child 0's answer, else the next child's while they answer ENOENT.
    private func queryDirectory<Result: Sendable>(_ body: (any FileOperations) async throws -> Result) async throws
        -> Result
    {
        for index in children.indices.dropLast() {
            do { return try await body(children[index]) } catch where isNotFound(error) { continue }
        }
        return try await body(children[children.count - 1])
    }

    /// Runs a change on the child that holds `id`, or on every child for a directory; returns the first result.
    func change<Result: Sendable>(
        _ id: FileID, _ operation: String, context: OperationContext,
        _ body: (any FileOperations) async throws -> Result
    ) async throws -> Result {
        try await waitingForMoves(of: id) {
            switch try await placement(of: id, context: context) {
            case .child(let index):
                return try await followingMoves(of: id, from: index, context: context) { try await body(children[$0]) }
            case .everyChild:
                let results = try await everyChild(operation, body)
                guard let first = results.first else { throw FileSystemError.inputOutput("distribute has no children") }
                return first
            }
        }
    }
}
