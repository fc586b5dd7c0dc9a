import MortarCore

extension FileOperationsConformance {
    static let attributeChecks: [ConformanceCheck] = [
        check("rootIsADirectory") { scratch in
            try expectEqual(try await scratch.attributes(.root).type, .directory, "type of the root")
            try expectEqual(try await scratch.attributes(.root).id, .root, "FileID of the root")
        },
        check("hardLinksShareDataAndCount") { scratch in
            let id = try await scratch.makeFile("original", [1, 2])
            let other = try await scratch.makeDirectory("other")
            let linked = try await scratch.subject.link(id, as: "alias", in: other, context: scratch.context)
            try expectEqual(linked.id, id, "FileID of the new link")
            try expectEqual(linked.linkCount, 2, "link count returned by link")
            try expectEqual(try await scratch.lookup("original").linkCount, 2, "link count seen through the first name")
            try await scratch.write([9], to: id, at: 0)
            let alias = try await scratch.lookup("alias", in: other)
            try expectEqual(try await scratch.contents(alias.id), [9, 2], "content through the second name")
            try await scratch.subject.unlink("original", in: scratch.directory, context: scratch.context)
            try expectEqual(try await scratch.lookup("alias", in: other).linkCount, 1, "link count after unlinking one")
        },
        check("linkErrors") { scratch in
            let file = try await scratch.makeFile("file")
            let directory = try await scratch.makeDirectory("directory")
            try await expectError(.exists, "link to an existing name") {
                try await scratch.subject.link(file, as: "directory", in: scratch.directory, context: scratch.context)
            }
            try await expectError(.operationNotPermitted, "hard link of a directory") {
                try await scratch.subject.link(directory, as: "again", in: scratch.directory, context: scratch.context)
            }
        },
        check("symbolicLinks") { scratch in
            let id = FileID.random()
            let target = "../some where/目标"
            let made = try await scratch.subject.makeSymbolicLink(
                "link", in: scratch.directory, id: id, target: target, context: scratch.context)
            try expectEqual(made.type, .symbolicLink, "type returned by makeSymbolicLink")
            let looked = try await scratch.lookup("link")
            try expectEqual(looked.id, id, "FileID of the symbolic link")
            try expectEqual(looked.type, .symbolicLink, "type seen by lookup")
            try expectEqual(looked.size, UInt64(target.utf8.count), "size of a symbolic link")
            try expectEqual(try await scratch.subject.readSymbolicLink(id, context: scratch.context), target, "target")
            let file = try await scratch.makeFile("file")
            try await expectError(.invalidArgument, "readSymbolicLink of a regular file") {
                try await scratch.subject.readSymbolicLink(file, context: scratch.context)
            }
        },
        check("makeNodeMakesFifo") { scratch in
            let id = FileID.random()
            let made = try await scratch.subject.makeNode(
                "pipe", in: scratch.directory, id: id, type: .fifo, permissions: 0o600, device: 0, context: scratch.context)
            try expectEqual(made.type, .fifo, "type returned by makeNode")
            try expectEqual(try await scratch.lookup("pipe").id, id, "FileID of the fifo")
        },
        check("setAttributesModeOwnerSizeTimes") { scratch in
            let id = try await scratch.makeFile("changing", [1, 2, 3])
            let owner = try await scratch.attributes(id)
            let time = Timestamp(seconds: 1_000_000_000, nanoseconds: 500)
            let changed = try await scratch.subject.setAttributes(
                AttributeChanges(
                    permissions: 0o751, userID: owner.userID, groupID: owner.groupID, size: 100,
                    accessTime: .set(time), modificationTime: .set(time)),
                of: id, context: scratch.context)
            try expectEqual(changed.permissions, 0o751, "permissions returned")
            try expectEqual(changed.size, 100, "size returned")
            let seen = try await scratch.attributes(id)
            try expectEqual(seen.permissions, 0o751, "permissions seen afterwards")
            try expectEqual(seen.modificationTime, time, "modification time")
            try expectEqual(seen.accessTime, time, "access time")
            try expectEqual(try await scratch.contents(id), [1, 2, 3] + [UInt8](repeating: 0, count: 97), "content")
            let shrunk = try await scratch.subject.setAttributes(
                AttributeChanges(size: 1), of: id, context: scratch.context)
            try expectEqual(shrunk.size, 1, "size after shrinking by setAttributes")
        },
        check("writeUpdatesModificationTime") { scratch in
            let id = try await scratch.makeFile("timed")
            let old = Timestamp(seconds: 1_000)
            _ = try await scratch.subject.setAttributes(
                AttributeChanges(modificationTime: .set(old)), of: id, context: scratch.context)
            try await scratch.write([1], to: id, at: 0)
            let after = try await scratch.attributes(id).modificationTime
            try expect(after > old, "modification time after a write: expected later than \(old), got \(after)")
        },
        check("extendedAttributes") { scratch in
            let id = try await scratch.makeFile("tagged")
            let subject = scratch.subject
            let context = scratch.context
            try await subject.setExtendedAttribute(
                "user.colour", to: Array("blue".utf8), mode: .createOrReplace, of: id, context: context)
            try await subject.setExtendedAttribute("user.empty", to: [], mode: .createOnly, of: id, context: context)
            try expectEqual(
                try await subject.extendedAttribute("user.colour", of: id, context: context), Array("blue".utf8),
                "value")
            try expectEqual(
                try await subject.extendedAttribute("user.empty", of: id, context: context), [], "empty value")
            let names = try await subject.extendedAttributeNames(of: id, context: context).filter {
                $0.hasPrefix("user.")
            }
            try expectEqual(names.sorted(), ["user.colour", "user.empty"], "names")
            try await expectError(.exists, "createOnly of an existing attribute") {
                try await subject.setExtendedAttribute(
                    "user.colour", to: [1], mode: .createOnly, of: id, context: context)
            }
            try await expectError(.noData, "replaceOnly of a missing attribute") {
                try await subject.setExtendedAttribute(
                    "user.missing", to: [1], mode: .replaceOnly, of: id, context: context)
            }
            try await subject.setExtendedAttribute("user.colour", to: [2], mode: .replaceOnly, of: id, context: context)
            try expectEqual(
                try await subject.extendedAttribute("user.colour", of: id, context: context), [2], "replaced value")
            try await subject.removeExtendedAttribute("user.colour", of: id, context: context)
            try await expectError(.noData, "get of a removed attribute") {
                try await subject.extendedAttribute("user.colour", of: id, context: context)
            }
            try await expectError(.noData, "remove of a missing attribute") {
                try await subject.removeExtendedAttribute("user.colour", of: id, context: context)
            }
        },
        check("extendedAttributesOnDirectories") { scratch in
            let directory = try await scratch.makeDirectory("tagged")
            try await scratch.subject.setExtendedAttribute(
                "user.k", to: [1, 2], mode: .createOrReplace, of: directory, context: scratch.context)
            let value = try await scratch.subject.extendedAttribute("user.k", of: directory, context: scratch.context)
            try expectEqual(value, [1, 2], "value on a directory")
        },
        check("fileSystemStatisticsAreSane") { scratch in
            let statistics = try await scratch.subject.fileSystemStatistics(context: scratch.context)
            try expect(statistics.blockSize > 0, "block size is \(statistics.blockSize)")
            try expect(statistics.blocks > 0, "total blocks is \(statistics.blocks)")
            try expect(statistics.blocksFree <= statistics.blocks, "free blocks \(statistics.blocksFree) exceed total")
            try expect(statistics.blocksAvailable <= statistics.blocksFree, "available blocks exceed free blocks")
            try expect(statistics.filesFree <= statistics.files, "free files \(statistics.filesFree) exceed total")
            try expect(statistics.nameLengthMax >= 255, "longest name is \(statistics.nameLengthMax)")
        },
        check("openedFileAttributes") { scratch in
            let id = try await scratch.makeFile("opened", [1, 2, 3])
            try await scratch.withOpen(id, .read) { file in
                let attributes = try await scratch.subject.attributes(ofOpen: file, context: scratch.context)
                try expectEqual(attributes.id, id, "FileID of an open file")
                try expectEqual(attributes.size, 3, "size of an open file")
            }
        },
        check("checkAccessAsRoot") { scratch in
            let id = try await scratch.makeFile("private", permissions: 0o600)
            try await scratch.subject.checkAccess([], to: id, context: scratch.context)
            try await scratch.subject.checkAccess([.read, .write], to: id, context: scratch.context)
            try await expectError(.notFound, "checkAccess of an unknown FileID") {
                try await scratch.subject.checkAccess([], to: .random(), context: scratch.context)
            }
        },
        check("synchronizeAndFlushOpenFile") { scratch in
            let id = try await scratch.makeFile("durable", [1, 2, 3])
            let file = try await scratch.subject.open(id, flags: .readWrite, context: scratch.context)
            try await scratch.subject.synchronize(file, dataOnly: false, context: scratch.context)
            try await scratch.subject.synchronize(file, dataOnly: true, context: scratch.context)
            try await scratch.subject.flush(file, context: scratch.context)
            try await scratch.subject.release(file, context: scratch.context)
            try await expectError(.badFileHandle, "flush of a released handle") {
                try await scratch.subject.flush(file, context: scratch.context)
            }
        },
        check("missingFileIDIsNotFound") { scratch in
            let missing = FileID.random()
            try await expectError(.notFound, "attributes of an unknown FileID") {
                try await scratch.attributes(missing)
            }
            let id = try await scratch.makeFile("gone")
            try await scratch.subject.unlink("gone", in: scratch.directory, context: scratch.context)
            try await expectError(.notFound, "attributes of an unlinked, closed file") {
                try await scratch.attributes(id)
            }
        },
    ]
}
