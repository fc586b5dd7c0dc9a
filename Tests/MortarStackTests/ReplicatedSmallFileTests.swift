import MortarCore
import MortarMembership
import MortarReplicate
import MortarTesting
import NIOCore
import Testing

/// `lookupAndRead` on a replica set: the directory's primary answers the lookup and serves the files it is the
/// primary of; the other in-sync members are asked beside it, and the file's primary among them opens the rest —
/// one round trip per file. Every file is opened once, on its primary only, and every head is the file's; a side
/// answer that fails leaves the file to be opened by FileID.
@Suite("Small files on a replica set")
struct ReplicatedSmallFileTests {
    @Test func eachFileIsReadFromItsPrimary() async throws {
        try await ReplicaSetFixture.with { set in
            let client = set.client
            let context = OperationContext()
            let count = 24
            for index in 0..<count {
                let created = try await client.create(
                    "f\(index)", in: .root, id: .random(), permissions: 0o644, flags: [.readWrite, .create],
                    context: context)
                _ = try await client.write(ByteBuffer(string: "file \(index)"), to: created.file, at: 0, context: context)
                try await client.release(created.file, context: context)
            }
            for storage in set.storages { storage.clearRecorded() }
            for index in 0..<count {
                let found = try await client.lookupAndRead(
                    "f\(index)", in: .root, flags: .read, count: 100, context: context)
                let opened = try #require(found.opened, "f\(index) was not opened")
                #expect(String(buffer: opened.head) == "file \(index)")
                try await client.release(opened.file, context: context)
            }
            let opens = set.storages.map { $0.count(of: .openAndRead) }
            #expect(opens.reduce(0, +) == count, "files opened per member: \(opens)")
            // The FileIDs are random: with 24 files, the chance that one member is the primary of all is 3^-23.
            #expect(opens.filter { $0 > 0 }.count >= 2, "every file was served by one member: \(opens)")
        }
    }

    /// Seen from the client: one `lookupAndRead` to each member per file and nothing after it — no file needs the
    /// second exchange (an open by FileID) that a file whose primary is not its directory's used to. When the
    /// file's primary fails its side answer, the file is opened by FileID on it, and read right.
    @Test func oneRoundTripPerFileAndAFailedSideAnswerFallsBack() async throws {
        try await ReplicaSetFixture.with { set in
            let members = set.bricks.map { LayerHarness(next: ReplicaSetFixture.memberClient($0)) }
            let client = Replicate(
                children: members, setIndex: 0, membership: set.manager, logger: OperationContext.silentLogger)
            let context = OperationContext()
            let count = 24
            var ids: [FileID] = []
            for index in 0..<count {
                let created = try await client.create(
                    "g\(index)", in: .root, id: .random(), permissions: 0o644, flags: [.readWrite, .create],
                    context: context)
                ids.append(created.file.id)
                _ = try await client.write(ByteBuffer(string: "file \(index)"), to: created.file, at: 0, context: context)
                try await client.release(created.file, context: context)
            }
            let view = set.manager.view(ofSet: 0)
            for member in members { member.clearRecorded() }
            for index in 0..<count {
                let found = try await client.lookupAndRead("g\(index)", in: .root, flags: .read, count: 100, context: context)
                let opened = try #require(found.opened, "g\(index) was not opened")
                #expect(String(buffer: opened.head) == "file \(index)")
                try await client.release(opened.file, context: context)
            }
            // Every member is asked (a side request cancelled once the file's primary answered may never reach
            // its brick, so this is counted on the client's side).
            #expect(members.map { $0.count(of: .lookupAndRead) } == [count, count, count])
            #expect(members.map { $0.count(of: .openAndRead) } == [0, 0, 0], "a second exchange was needed")

            // A file whose primary is not the root's: its primary's side answer fails, and the file is opened by
            // FileID on it instead.
            let rootPrimary = try #require(view.primary(for: .root))
            let index = try #require(ids.firstIndex { view.primary(for: $0) != rootPrimary })
            let filePrimary = try #require(view.primary(for: ids[index]))
            members[filePrimary].failNext(.lookupAndRead, with: FileSystemError(.inputOutput, "injected"))
            for member in members { member.clearRecorded() }
            let found = try await client.lookupAndRead("g\(index)", in: .root, flags: .read, count: 100, context: context)
            let opened = try #require(found.opened)
            #expect(String(buffer: opened.head) == "file \(index)")
            #expect(members[filePrimary].count(of: .openAndRead) == 1, "the fallback opens the file on its primary")
            try await client.release(opened.file, context: context)
        }
    }
}
