import MortarCore

extension FileOperationsConformance {
    static let namespaceChecks: [ConformanceCheck] = [
        check("makeAndRemoveDirectory") { scratch in
            let before = try await scratch.attributes(scratch.directory).linkCount
            let id = try await scratch.makeDirectory("sub")
            let attributes = try await scratch.lookup("sub")
            try expectEqual(attributes.id, id, "FileID of the new directory")
            try expectEqual(attributes.type, .directory, "type")
            try expectEqual(attributes.linkCount, 2, "link count of an empty directory")
            try expectEqual(try await scratch.attributes(scratch.directory).linkCount, before + 1, "parent link count")
            try await scratch.subject.removeDirectory("sub", in: scratch.directory, context: scratch.context)
            try await expectError(.notFound, "lookup of a removed directory") { try await scratch.lookup("sub") }
            try expectEqual(
                try await scratch.attributes(scratch.directory).linkCount, before, "parent link count after")
        },
        check("removalErrors") { scratch in
            let sub = try await scratch.makeDirectory("full")
            try await scratch.makeFile("inside", in: sub)
            try await scratch.makeFile("file")
            let subject = scratch.subject
            let here = scratch.directory
            try await expectError(.notEmpty, "rmdir of a non-empty directory") {
                try await subject.removeDirectory("full", in: here, context: scratch.context)
            }
            try await expectError(.notDirectory, "rmdir of a file") {
                try await subject.removeDirectory("file", in: here, context: scratch.context)
            }
            try await expectError(.isDirectory, "unlink of a directory") {
                try await subject.unlink("full", in: here, context: scratch.context)
            }
            try await expectError(.notFound, "unlink of a missing name") {
                try await subject.unlink("missing", in: here, context: scratch.context)
            }
        },
        check("lookupAndCreateErrors") { scratch in
            let file = try await scratch.makeFile("file")
            try await scratch.makeDirectory("dir")
            try await expectError(.notFound, "lookup of a missing name") { try await scratch.lookup("missing") }
            try await expectError(.notDirectory, "lookup inside a file") { try await scratch.lookup("x", in: file) }
            try await expectError(.notFound, "create in a missing directory") {
                try await scratch.makeFile("x", in: .random())
            }
            try await expectError(.exists, "mkdir of an existing name") { try await scratch.makeDirectory("file") }
            try await expectError(.isDirectory, "create (not exclusive) over a directory") {
                try await scratch.subject.create(
                    "dir", in: scratch.directory, id: .random(), permissions: 0o644, flags: [.readWrite, .create],
                    context: scratch.context)
            }
        },
        check("invalidNamesAreRefused") { scratch in
            for name in ["", ".", "..", "a/b"] {
                try await expectError(.invalidArgument, "create of '\(name)'") { try await scratch.makeFile(name) }
            }
            let long = String(repeating: "n", count: 256)
            try await expectError(.nameTooLong, "create of a 256-byte name") { try await scratch.makeFile(long) }
            try await scratch.makeFile(String(repeating: "n", count: 255))
        },
        check("namesWithSpacesAndUnicode") { scratch in
            let names = ["hello world", " leading", "naïve café ☕", "日本語のファイル", "tab\there"]
            for name in names { try await scratch.makeFile(name) }
            for name in names { try expectEqual(try await scratch.lookup(name).type, .regular, "lookup of '\(name)'") }
            let listed = try await scratch.listing().map(\.name).sorted()
            try expectEqual(listed, names.sorted(), "names listed")
        },
        check("readDirectoryInSmallPages") { scratch in
            var expected: [String: FileType] = [:]
            for index in 0..<17 { expected["file-\(index)"] = .regular }
            for index in 0..<6 { expected["dir-\(index)"] = .directory }
            for (name, type) in expected {
                if type == .directory {
                    try await scratch.makeDirectory(name)
                } else {
                    try await scratch.makeFile(name)
                }
            }
            for countMax in [1, 2, 5, 100] {
                let entries = try await scratch.listing(countMax: countMax)
                try expectEqual(entries.count, expected.count, "entries listed with countMax \(countMax)")
                let listed = Dictionary(
                    entries.map { ($0.name, $0.attributes.type) }, uniquingKeysWith: { first, _ in first })
                try expectEqual(listed, expected, "names and types listed with countMax \(countMax)")
            }
        },
        check("readDirectoryAttributesMatchLookup") { scratch in
            try await scratch.makeFile("a", [1, 2, 3, 4])
            try await scratch.makeDirectory("b")
            for entry in try await scratch.listing() {
                let looked = try await scratch.lookup(entry.name)
                try expectEqual(entry.attributes.id, looked.id, "FileID of '\(entry.name)' in the listing")
                try expectEqual(entry.attributes.size, looked.size, "size of '\(entry.name)' in the listing")
            }
        },
        check("readDirectoryOfFileFails") { scratch in
            let file = try await scratch.makeFile("file")
            try await expectError(.notDirectory, "readDirectory of a file") { try await scratch.listing(file) }
        },
        check("renameKeepsIdentityAndData") { scratch in
            let data = FileOperationsConformance.pattern(5_000)
            let id = try await scratch.makeFile("old", data)
            let other = try await scratch.makeDirectory("other")
            try await scratch.subject.rename(
                "old", in: scratch.directory, to: "new", in: scratch.directory, flags: [], context: scratch.context)
            try await expectError(.notFound, "lookup of the old name") { try await scratch.lookup("old") }
            try expectEqual(try await scratch.lookup("new").id, id, "FileID after rename")
            try await scratch.subject.rename(
                "new", in: scratch.directory, to: "moved", in: other, flags: [], context: scratch.context)
            try expectEqual(try await scratch.lookup("moved", in: other).id, id, "FileID after moving directories")
            try expectEqual(try await scratch.contents(id), data, "content after renames")
        },
        check("renameReplacesTargetFile") { scratch in
            let source = try await scratch.makeFile("source", [1])
            try await scratch.makeFile("target", [2, 2])
            try await scratch.subject.rename(
                "source", in: scratch.directory, to: "target", in: scratch.directory, flags: [],
                context: scratch.context)
            try expectEqual(try await scratch.lookup("target").id, source, "FileID at the target name")
            try expectEqual(try await scratch.contents(source), [1], "content at the target name")
            try expectEqual(try await scratch.listing().map(\.name), ["target"], "names left")
        },
        check("renameNoReplaceRefusesExistingTarget") { scratch in
            let first = try await scratch.makeFile("first")
            let second = try await scratch.makeFile("second")
            try await expectError(.exists, "rename with noReplace over an existing name") {
                try await scratch.subject.rename(
                    "first", in: scratch.directory, to: "second", in: scratch.directory, flags: .noReplace,
                    context: scratch.context)
            }
            try expectEqual(try await scratch.lookup("first").id, first, "source untouched")
            try expectEqual(try await scratch.lookup("second").id, second, "target untouched")
            try await scratch.subject.rename(
                "first", in: scratch.directory, to: "third", in: scratch.directory, flags: .noReplace,
                context: scratch.context)
            try expectEqual(try await scratch.lookup("third").id, first, "rename with noReplace to a free name")
        },
        check("renameDirectoryCases") { scratch in
            let here = scratch.directory
            let moving = try await scratch.makeDirectory("moving")
            try await scratch.makeDirectory("empty")
            let full = try await scratch.makeDirectory("full")
            try await scratch.makeFile("inside", in: full)
            try await scratch.makeFile("file")
            let rename = { (name: String, newName: String) in
                try await scratch.subject.rename(
                    name, in: here, to: newName, in: here, flags: [], context: scratch.context)
            }
            try await expectError(.notEmpty, "directory over a non-empty directory") {
                try await rename("moving", "full")
            }
            try await expectError(.notDirectory, "directory over a file") { try await rename("moving", "file") }
            try await expectError(.isDirectory, "file over a directory") { try await rename("file", "empty") }
            try await rename("moving", "empty")
            try expectEqual(try await scratch.lookup("empty").id, moving, "directory replaced an empty directory")
            let before = try await scratch.attributes(here).linkCount
            try await scratch.subject.rename(
                "empty", in: here, to: "nested", in: full, flags: [], context: scratch.context)
            try expectEqual(try await scratch.attributes(here).linkCount, before - 1, "old parent's link count")
            try expectEqual(try await scratch.attributes(full).linkCount, 3, "new parent's link count")
        },
        check("renameIntoOwnSubtreeFails") { scratch in
            let outer = try await scratch.makeDirectory("outer")
            let inner = try await scratch.makeDirectory("inner", in: outer)
            for destination in [outer, inner] {
                try await expectError(.invalidArgument, "moving a directory below itself") {
                    try await scratch.subject.rename(
                        "outer", in: scratch.directory, to: "x", in: destination, flags: [], context: scratch.context)
                }
            }
        },
        check("renameExchangeSwaps") { scratch in
            let file = try await scratch.makeFile("file", [1])
            let directory = try await scratch.makeDirectory("directory")
            try await scratch.subject.rename(
                "file", in: scratch.directory, to: "directory", in: scratch.directory, flags: .exchange,
                context: scratch.context)
            try expectEqual(try await scratch.lookup("file").id, directory, "FileID at the first name")
            try expectEqual(try await scratch.lookup("directory").id, file, "FileID at the second name")
            try await expectError(.notFound, "exchange with a missing name") {
                try await scratch.subject.rename(
                    "file", in: scratch.directory, to: "missing", in: scratch.directory, flags: .exchange,
                    context: scratch.context)
            }
        },
        check("fileIDStableWhenParentIsRenamed") { scratch in
            let parent = try await scratch.makeDirectory("parent")
            let child = try await scratch.makeFile("child", [5, 6], in: parent)
            try await scratch.subject.rename(
                "parent", in: scratch.directory, to: "renamed", in: scratch.directory, flags: [],
                context: scratch.context)
            try expectEqual(
                try await scratch.attributes(child).id, child, "attributes(of:) of a file after renaming its parent")
            try expectEqual(
                try await scratch.attributes(parent).type, .directory, "attributes(of:) of the renamed directory")
            try expectEqual(
                try await scratch.lookup("child", in: parent).id, child, "lookup through the renamed parent")
            try expectEqual(try await scratch.contents(child), [5, 6], "content after renaming the parent")
        },
    ]
}
