import MortarCore
import NIOCore

/// The conformance suite: checks every ``FileOperations`` must pass, run alike against the in-memory model, a
/// brick's storage and the whole client stack (`@Test(arguments: FileOperationsConformance.checks)`).
///
/// Checks run as the root user (`OperationContext()`) and tolerate what POSIX leaves open: `.`/`..` in listings,
/// and file systems without hole support for SEEK_DATA/SEEK_HOLE.
public enum FileOperationsConformance {
    public static let checks: [ConformanceCheck] = fileChecks + namespaceChecks + attributeChecks

    static func check(
        _ name: String, _ body: @escaping @Sendable (Scratch) async throws -> Void
    ) -> ConformanceCheck {
        ConformanceCheck(name) { subject in
            try await body(try await Scratch.make(subject, name))
        }
    }

    /// `count` bytes of a recognisable pattern that differs between offsets.
    static func pattern(_ count: Int, seed: UInt8 = 7) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) }
    }

    static let fileChecks: [ConformanceCheck] = [
        check("createThenLookup") { scratch in
            let id = try await scratch.makeFile("plain", permissions: 0o640)
            let attributes = try await scratch.lookup("plain")
            try expectEqual(attributes.id, id, "FileID from lookup")
            try expectEqual(attributes.type, .regular, "type")
            try expectEqual(attributes.size, 0, "size of a new file")
            try expectEqual(attributes.linkCount, 1, "link count of a new file")
            try expectEqual(attributes.permissions, 0o640, "permissions")
        },
        check("createExclusiveOfExistingNameFails") { scratch in
            try await scratch.makeFile("taken")
            try await expectError(.exists, "exclusive create of an existing name") {
                try await scratch.makeFile("taken")
            }
        },
        check("createOfExistingNameOpensIt") { scratch in
            let id = try await scratch.makeFile("again", [1, 2, 3])
            let created = try await scratch.subject.create(
                "again", in: scratch.directory, id: .random(), permissions: 0o644, flags: [.readWrite, .create],
                context: scratch.context)
            try expectEqual(created.file.id, id, "FileID of the opened existing file")
            try expectEqual(created.attributes.size, 3, "size of the existing file")
            try await scratch.subject.release(created.file, context: scratch.context)
            let truncated = try await scratch.subject.create(
                "again", in: scratch.directory, id: .random(), permissions: 0o644,
                flags: [.readWrite, .create, .truncate], context: scratch.context)
            try await scratch.subject.release(truncated.file, context: scratch.context)
            try expectEqual(try await scratch.attributes(id).size, 0, "size after create with truncate")
        },
        check("writeThenReadBack") { scratch in
            let data = pattern(10_000)
            let id = try await scratch.makeFile("data", data)
            try expectEqual(try await scratch.contents(id), data, "content read back")
            try expectEqual(try await scratch.attributes(id).size, 10_000, "size after write")
        },
        check("readAtOffsets") { scratch in
            let data = pattern(10_000)
            let id = try await scratch.makeFile("offsets", data)
            try await scratch.withOpen(id, .read) { file in
                for (offset, count) in [(0, 1), (1, 100), (4095, 2), (4096, 4096), (9_990, 10), (5_000, 1)] {
                    let got = try await scratch.read(file, at: UInt64(offset), count: count)
                    try expectEqual(got, Array(data[offset..<offset + count]), "read of \(count) at \(offset)")
                }
                try expectEqual(
                    try await scratch.read(file, at: 9_995, count: 100), Array(data[9_995...]), "short read at end")
                try expectEqual(try await scratch.read(file, at: 10_000, count: 10), [], "read at end of file")
                try expectEqual(try await scratch.read(file, at: 50_000, count: 10), [], "read past end of file")
            }
        },
        check("writePastEndFillsWithZeros") { scratch in
            let id = try await scratch.makeFile("gap", [9])
            try await scratch.write([1, 2, 3], to: id, at: 5_000)
            let content = try await scratch.contents(id)
            try expectEqual(content.count, 5_003, "size after writing past the end")
            try expect(content[1..<5_000].allSatisfy { $0 == 0 }, "the gap before the write reads as zeros")
            try expectEqual(Array(content[5_000...]), [1, 2, 3], "the written bytes")
        },
        check("overwriteInMiddle") { scratch in
            let id = try await scratch.makeFile("middle", pattern(100))
            try await scratch.write([0xFF, 0xFE], to: id, at: 50)
            var expected = pattern(100)
            expected[50] = 0xFF
            expected[51] = 0xFE
            try expectEqual(try await scratch.contents(id), expected, "content after overwriting two bytes")
        },
        check("truncateShrinksAndGrows") { scratch in
            let data = pattern(8_000)
            let id = try await scratch.makeFile("sized", data)
            try await scratch.withOpen(id, .readWrite) { file in
                try await scratch.subject.truncate(file, to: 100, context: scratch.context)
                try expectEqual(try await scratch.read(file, count: 10_000), Array(data[..<100]), "after shrinking")
                try await scratch.subject.truncate(file, to: 300, context: scratch.context)
                let grown = try await scratch.read(file, count: 10_000)
                try expectEqual(grown, Array(data[..<100]) + [UInt8](repeating: 0, count: 200), "after growing")
            }
        },
        check("appendWritesAtEnd") { scratch in
            let id = try await scratch.makeFile("log", [1, 2, 3])
            try await scratch.write([4, 5], to: id, at: 0, flags: [.write, .append])
            try expectEqual(try await scratch.contents(id), [1, 2, 3, 4, 5], "content after an append at offset 0")
        },
        check("accessModeOfHandleIsEnforced") { scratch in
            let id = try await scratch.makeFile("modes", [1, 2, 3])
            try await scratch.withOpen(id, .write) { file in
                try await expectError(.badFileHandle, "read through a write-only handle") {
                    try await scratch.read(file, count: 3)
                }
            }
            try await scratch.withOpen(id, .read) { file in
                try await expectError(.badFileHandle, "write through a read-only handle") {
                    try await scratch.subject.write(ByteBuffer(bytes: [9]), to: file, at: 0, context: scratch.context)
                }
            }
        },
        check("releasedHandleIsInvalid") { scratch in
            let id = try await scratch.makeFile("closed", [1])
            let file = try await scratch.subject.open(id, flags: .read, context: scratch.context)
            try await scratch.subject.release(file, context: scratch.context)
            try await expectError(.badFileHandle, "read through a released handle") {
                try await scratch.read(file, count: 1)
            }
        },
        check("unlinkedOpenFileStaysReadable") { scratch in
            let data = pattern(3_000)
            let id = try await scratch.makeFile("doomed", data)
            try await scratch.withOpen(id, .readWrite) { file in
                try await scratch.subject.unlink("doomed", in: scratch.directory, context: scratch.context)
                try await expectError(.notFound, "lookup after unlink") { try await scratch.lookup("doomed") }
                try expectEqual(try await scratch.read(file, count: 5_000), data, "read of an unlinked open file")
                _ = try await scratch.subject.write(ByteBuffer(bytes: [7]), to: file, at: 0, context: scratch.context)
                try expectEqual(try await scratch.read(file, count: 1), [7], "write to an unlinked open file")
            }
        },
        check("seekDataAndHole") { scratch in
            let block = 4096
            let id = try await scratch.makeFile("sparse", pattern(block))
            try await scratch.write(pattern(block), to: id, at: UInt64(256 * block))
            let size = UInt64(257 * block)
            try await scratch.withOpen(id, .read) { file in
                let seek = { (offset: UInt64, target: SeekTarget) in
                    try await scratch.subject.seek(file, from: offset, to: target, context: scratch.context)
                }
                try expectEqual(try await seek(0, .data), 0, "SEEK_DATA from 0")
                let hole = try await seek(0, .hole)
                try expect(
                    hole == UInt64(block) || hole == size, "SEEK_HOLE from 0: expected \(block) or \(size), got \(hole)"
                )
                let data = try await seek(UInt64(2 * block), .data)
                try expect(
                    data == UInt64(2 * block) || data == UInt64(256 * block),
                    "SEEK_DATA from \(2 * block): expected \(2 * block) or \(256 * block), got \(data)")
                try expectEqual(try await seek(size - 1, .hole), size, "SEEK_HOLE in the last block")
                try await expectError(.noSuchDeviceOrAddress, "SEEK_DATA at the end") { try await seek(size, .data) }
                try await expectError(.noSuchDeviceOrAddress, "SEEK_HOLE past the end") {
                    try await seek(size + 1, .hole)
                }
            }
        },
        check("discardReadsBackZeros") { scratch in
            let block = 4096
            let id = try await scratch.makeFile("punched", [UInt8](repeating: 0xAB, count: 3 * block))
            try await scratch.withOpen(id, .readWrite) { file in
                try await scratch.subject.discard(
                    file, at: UInt64(block), length: UInt64(block), context: scratch.context)
                try await scratch.subject.discard(file, at: 10, length: 5, context: scratch.context)
            }
            var expected = [UInt8](repeating: 0xAB, count: 3 * block)
            for index in block..<2 * block { expected[index] = 0 }
            for index in 10..<15 { expected[index] = 0 }
            try expectEqual(try await scratch.contents(id), expected, "content after two discards")
        },
        check("zeroFillReadsBackZeros") { scratch in
            let id = try await scratch.makeFile("zeroed", [UInt8](repeating: 0xCD, count: 10_000))
            try await scratch.withOpen(id, .readWrite) { file in
                try await scratch.subject.zeroFill(file, at: 1_000, length: 5_000, context: scratch.context)
            }
            var expected = [UInt8](repeating: 0xCD, count: 10_000)
            for index in 1_000..<6_000 { expected[index] = 0 }
            try expectEqual(try await scratch.contents(id), expected, "content after zero-fill")
        },
        check("allocateExtendsUnlessKeepingSize") { scratch in
            let id = try await scratch.makeFile("reserved", [1])
            try await scratch.withOpen(id, .readWrite) { file in
                try await scratch.subject.allocate(file, at: 0, length: 8_192, keepSize: true, context: scratch.context)
                try expectEqual(try await scratch.attributes(id).size, 1, "size after allocate keeping size")
                try await scratch.subject.allocate(
                    file, at: 0, length: 8_192, keepSize: false, context: scratch.context)
            }
            let content = try await scratch.contents(id)
            try expectEqual(content.count, 8_192, "size after allocate")
            try expect(content.dropFirst().allSatisfy { $0 == 0 }, "allocated space reads as zeros")
        },
        check("openAndReadBringsTheHead") { scratch in
            let data = pattern(10_000)
            let id = try await scratch.makeFile("small", data)
            let subject = scratch.subject, context = scratch.context
            let opened = try await subject.openAndRead(id, flags: .read, count: 4_096, context: context)
            try expectEqual(opened.file.id, id, "FileID of the opened file")
            try expectEqual(Array(opened.head.readableBytesView), Array(data[..<4_096]), "head of 4,096 bytes")
            // The handle is an ordinary open file.
            try expectEqual(try await scratch.read(opened.file, at: 9_000, count: 10), Array(data[9_000..<9_010]),
                            "read through the handle")
            try await subject.release(opened.file, context: context)
            let whole = try await subject.openAndRead(
                id, flags: .read, count: Limits.quickReadByteCountMax, context: context)
            try expectEqual(Array(whole.head.readableBytesView), data, "a head asked larger than the file is the file")
            try await subject.release(whole.file, context: context)
            let emptyID = try await scratch.makeFile("empty")
            let empty = try await subject.openAndRead(emptyID, flags: .read, count: 100, context: context)
            try expectEqual(empty.head.readableBytes, 0, "head of an empty file")
            try await subject.release(empty.file, context: context)
            try await expectError(.invalidArgument, "open-and-read for writing") {
                _ = try await subject.openAndRead(id, flags: .readWrite, count: 10, context: context)
            }
            try await expectError(.invalidArgument, "open-and-read of more than the bound") {
                _ = try await subject.openAndRead(
                    id, flags: .read, count: Limits.quickReadByteCountMax + 1, context: context)
            }
            try await expectError(.notFound, "open-and-read of a FileID nobody has") {
                _ = try await subject.openAndRead(.random(), flags: .read, count: 10, context: context)
            }
        },
        check("grantLocalReadNeedsAHandleOpenForReading") { scratch in
            // What a grant is depends on the back end (a descriptor offered, or EOPNOTSUPP where there is none);
            // which handles may have one does not.
            let id = try await scratch.makeFile("granted", pattern(100))
            let subject = scratch.subject, context = scratch.context
            let writeOnly = try await subject.open(id, flags: .write, context: context)
            try await expectError(.badFileHandle, "a grant for a file open only for writing") {
                _ = try await subject.grantLocalRead(of: writeOnly, context: context)
            }
            try await subject.release(writeOnly, context: context)
            try await expectError(.badFileHandle, "a grant for a released handle") {
                _ = try await subject.grantLocalRead(of: writeOnly, context: context)
            }
        },
        check("lookupAndReadOpensRegularFilesOnly") { scratch in
            let data = pattern(3_000)
            let id = try await scratch.makeFile("found", data)
            let subject = scratch.subject, context = scratch.context, directory = scratch.directory
            let found = try await subject.lookupAndRead("found", in: directory, flags: .read, count: 1_000, context: context)
            try expectEqual(found.attributes.id, id, "FileID of the name")
            try expectEqual(found.attributes.size, 3_000, "size of the file")
            guard let opened = found.opened else { throw ConformanceFailure("a regular file was not opened") }
            try expectEqual(opened.file.id, id, "FileID of the open file")
            try expectEqual(Array(opened.head.readableBytesView), Array(data[..<1_000]), "head of 1,000 bytes")
            try expectEqual(try await scratch.read(opened.file, at: 2_990, count: 100), Array(data[2_990...]),
                            "read through the handle")
            try await subject.release(opened.file, context: context)
            let subdirectory = try await subject.makeDirectory(
                "sub", in: directory, id: .random(), permissions: 0o755, context: context)
            let notAFile = try await subject.lookupAndRead("sub", in: directory, flags: .read, count: 10, context: context)
            try expectEqual(notAFile.attributes.id, subdirectory.id, "FileID of a directory")
            try expect(notAFile.opened == nil, "a directory is not opened")
            try await expectError(.notFound, "lookup-and-read of a missing name") {
                _ = try await subject.lookupAndRead("absent", in: directory, flags: .read, count: 10, context: context)
            }
            try await expectError(.invalidArgument, "lookup-and-read for writing") {
                _ = try await subject.lookupAndRead("found", in: directory, flags: .write, count: 10, context: context)
            }
        },
    ]
}
