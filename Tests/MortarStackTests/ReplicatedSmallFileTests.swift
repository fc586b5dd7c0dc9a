import MortarCore
import MortarTesting
import NIOCore
import Testing

/// `lookupAndRead` on a replica set: the directory's primary answers the lookup and serves the files it is the
/// primary of; the client's replicate layer opens the others on their own primary. Every file is opened once,
/// on its primary only, and every head is the file's.
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
}
