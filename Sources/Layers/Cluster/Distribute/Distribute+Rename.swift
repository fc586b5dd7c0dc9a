import Logging
import MortarCore
import MortarVolumeSpec
import Synchronization

/// Rename across children. A file never moves between children here: it is renamed where its data is, and link
/// files on hashed children are fixed up afterwards. A directory is renamed on every child.
///
/// Errors that need both names in view (renaming a directory into itself, over a non-empty directory, a file
/// over a directory) are left to a child that sees both, so they come out exactly as POSIX orders them; such a
/// child call fails before anything changes.
extension Distribute {
    /// The rename itself; ``rename(_:in:to:in:flags:context:)`` also moves the directories' times.
    func moveEntry(
        _ name: String, in parent: FileID, to newName: String, in newParent: FileID, flags: RenameFlags,
        context: OperationContext
    ) async throws {
        guard !flags.isSuperset(of: [.noReplace, .exchange]) else {
            throw FileSystemError.invalidArgument("rename flags noReplace and exchange exclude each other")
        }
        let source = try await resolve(name, in: parent, context: context)
        try EntryName.validate(newName)
        try Self.refuseReserved(newName)
        let target = try await resolveIfPresent(newName, in: newParent, context: context)
        if flags.contains(.noReplace), target != nil {
            throw FileSystemError(.exists, "rename: '\(newName)' already exists in \(newParent)")
        }
        let names = RenameNames(name: name, parent: parent, newName: newName, newParent: newParent)
        if flags.contains(.exchange) {
            guard let target else {
                throw FileSystemError.notFound("rename exchange: no entry '\(newName)' in \(newParent)")
            }
            try await exchange(source, target, names, context: context)
            return
        }
        switch (source, target) {
        case (.directory(let moving), .directory(let existing)):
            if moving.id == existing.id { return }
            if let child = try await childWithEntries(existing.id, context: context) {
                try await children[child].rename(
                    name, in: parent, to: newName, in: newParent, flags: [], context: context)
                throw FileSystemError(.notEmpty, "rename: directory '\(newName)' is not empty on child \(child)")
            }
            try await renameEverywhere(names, flags: [], context: context)
        case (.directory, nil):
            try await renameEverywhere(names, flags: [], context: context)
        case (.directory, .object(let holder, _, _)), (.object(let holder, _, _), .directory):
            // Always an error (ENOTDIR, EISDIR, EINVAL or ENOTEMPTY); the holder sees both names.
            try await children[holder].rename(name, in: parent, to: newName, in: newParent, flags: [], context: context)
            throw FileSystemError.inputOutput(
                "rename of '\(name)' over '\(newName)' unexpectedly succeeded on child \(holder)")
        case (.object(let holder, let attributes, _), let target):
            if case .object(_, let existing, _) = target, existing.id == attributes.id { return }
            try await renameFile(holder: holder, id: attributes.id, replacing: target, names, context: context)
        }
    }

    /// Renames a directory on every child, child 0 first: it decides errors before any other child changes.
    private func renameEverywhere(_ names: RenameNames, flags: RenameFlags, context: OperationContext) async throws {
        _ = try await everyChild("rename") { child in
            try await child.rename(
                names.name, in: names.parent, to: names.newName, in: names.newParent, flags: flags, context: context)
        }
    }

    private func renameFile(
        holder: Int, id: FileID, replacing target: Resolution?, _ names: RenameNames, context: OperationContext
    ) async throws {
        if case .object(let targetHolder, _, _) = target, targetHolder != holder {
            try await children[targetHolder].unlink(names.newName, in: names.newParent, context: context)
        }
        try await children[holder].rename(
            names.name, in: names.parent, to: names.newName, in: names.newParent, flags: [], context: context)
        try await removeLinkFile(names.name, in: names.parent, keeping: holder, context: context)
        try await placeLinkFile(names.newName, in: names.newParent, id: id, holder: holder, context: context)
    }

    private func exchange(
        _ source: Resolution, _ target: Resolution, _ names: RenameNames, context: OperationContext
    ) async throws {
        switch (source, target) {
        case (.directory, .directory):
            try await renameEverywhere(names, flags: .exchange, context: context)
        case (.object(let holder, let file, _), .directory):
            try await exchangeFileWithDirectory(holder: holder, file: file.id, names, context: context)
        case (.directory, .object(let holder, let file, _)):
            try await exchangeFileWithDirectory(holder: holder, file: file.id, names.swapped, context: context)
        case (.object(let sourceHolder, let sourceFile, _), .object(let targetHolder, let targetFile, _)):
            if sourceFile.id == targetFile.id { return }
            if sourceHolder == targetHolder {
                try await children[sourceHolder].rename(
                    names.name, in: names.parent, to: names.newName, in: names.newParent, flags: .exchange,
                    context: context)
            } else {
                // Not atomic across two children: each holder renames its file to the other's name.
                try await children[sourceHolder].rename(
                    names.name, in: names.parent, to: names.newName, in: names.newParent, flags: [], context: context)
                try await children[targetHolder].rename(
                    names.newName, in: names.newParent, to: names.name, in: names.parent, flags: [], context: context)
            }
            try await placeLinkFile(
                names.name, in: names.parent, id: targetFile.id, holder: targetHolder, context: context)
            try await placeLinkFile(
                names.newName, in: names.newParent, id: sourceFile.id, holder: sourceHolder, context: context)
        }
    }

    /// Swaps a file (at `names.name`, held by `holder`) with a directory (at `names.newName`): the holder, which has
    /// both, exchanges them; every other child moves the directory to the file's old name.
    private func exchangeFileWithDirectory(
        holder: Int, file: FileID, _ names: RenameNames, context: OperationContext
    ) async throws {
        try await children[holder].rename(
            names.name, in: names.parent, to: names.newName, in: names.newParent, flags: .exchange, context: context)
        try await removeLinkFile(names.name, in: names.parent, keeping: holder, context: context)
        let others = children.indices.filter { $0 != holder }
        _ = try await everyChild("rename", order: others) { child in
            try await child.rename(
                names.newName, in: names.newParent, to: names.name, in: names.parent, flags: [], context: context)
        }
        try await placeLinkFile(names.newName, in: names.newParent, id: file, holder: holder, context: context)
    }
}

/// The two names of a rename.
struct RenameNames: Sendable {
    var name: String
    var parent: FileID
    var newName: String
    var newParent: FileID

    var swapped: RenameNames {
        RenameNames(name: newName, parent: newParent, newName: name, newParent: parent)
    }
}
