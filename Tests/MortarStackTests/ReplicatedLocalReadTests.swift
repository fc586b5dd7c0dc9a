import Foundation
import MortarCore
import MortarMembership
import MortarProtocolClient
import MortarTesting
import MortarTransport
import NIOCore
import Testing

/// Short-circuit local reads of a replica member: the file's primary grants a descriptor, and a client on its host
/// reads through it only while the member's state word says, before and after the read, that the member is in sync
/// in the epoch the read carries — when the member itself would have served the read.
@Suite("Short-circuit local reads of a replica member", .serialized)
struct ReplicatedLocalReadTests {
    static func stamped(_ epoch: UInt64) -> OperationContext {
        OperationContext(replication: ReplicationStamp(epoch: epoch, role: .client))
    }

    /// A file whose primary in the current view is `member`, written through the set's client.
    static func file(primary member: Int, in set: ReplicaSetFixture, content: [UInt8]) async throws -> FileID {
        for index in 0..<64 {
            let id = FileID.random()
            guard set.manager.view.primary(for: id) == member else { continue }
            let context = stamped(set.manager.view.epoch)
            let created = try await set.client.create(
                "primary-\(member)-\(index)", in: .root, id: id, permissions: 0o644, flags: .readWrite, context: context)
            _ = try await set.client.write(ByteBuffer(bytes: content), to: created.file, at: 0, context: context)
            try await set.client.release(created.file, context: context)
            return id
        }
        throw FileSystemError(.inputOutput, "no FileID of 64 has member \(member) as its primary")
    }

    @Test("the primary's reads are local while its word agrees; a view change stops them at once")
    func wordGuardsEveryRead() async throws {
        try await ReplicaSetFixture.with(unixSockets: true) { set in
            let content = LocalReadTests.pattern(40_000)
            let id = try await Self.file(primary: 0, in: set, content: content)
            let local = set.unixClient(0)
            defer { local.shutdown() }
            let first = set.manager.view.epoch
            let file = try await local.open(id, flags: .read, context: Self.stamped(first))
            set.storages[0].clearRecorded()
            // The first read maps the member's word (over the connection); the next asks for the descriptor.
            for offset in [0, 10_000, 20_000, 30_000] {
                let data = try await local.read(from: file, at: UInt64(offset), count: 5_000, context: Self.stamped(first))
                #expect(Array(buffer: data) == Array(content[offset..<offset + 5_000]))
            }
            #expect(set.storages[0].count(of: .grantLocalRead) == 1)
            #expect(local.localReadCount >= 2, "reads after the grant are local")
            let readsOverTheConnection = set.storages[0].count(of: .read)

            // Member 2 leaves: a new epoch in which member 0 is still in sync and still the file's primary.
            _ = try set.manager.apply(.unreachable(member: 2))
            let second = set.manager.view.epoch
            #expect(second > first && set.manager.view.primary(for: id) == 0)
            // A read of the old epoch is not local (the word says the new one): it goes to the member, which
            // refuses it as it refuses any request of an epoch not its own.
            await LocalReadTests.expectCode(.membershipChanged) {
                _ = try await local.read(from: file, at: 0, count: 10, context: Self.stamped(first))
            }
            let before = local.localReadCount
            let data = try await local.read(from: file, at: 100, count: 10, context: Self.stamped(second))
            #expect(Array(buffer: data) == Array(content[100..<110]))
            #expect(local.localReadCount == before + 1, "a read of the member's epoch is local again")
            #expect(set.storages[0].count(of: .read) == readsOverTheConnection, "only the refused read reached it")

            // Member 0 leaves the in-sync set: its word says so, and no read of any epoch is served locally.
            _ = try set.manager.apply(.unreachable(member: 0))
            let third = set.manager.view.epoch
            let localBefore = local.localReadCount
            for epoch in [second, third] {
                await LocalReadTests.expectCode(.membershipChanged) {
                    _ = try await local.read(from: file, at: 0, count: 10, context: Self.stamped(epoch))
                }
            }
            #expect(local.localReadCount == localBefore, "a member out of sync is never read locally")
            try? await local.release(file, context: Self.stamped(third))  // refused in this epoch; the handle goes
        }
    }

    @Test("a member that went away is not read locally, whatever its word last said")
    func stoppedMemberIsNotReadLocally() async throws {
        try await ReplicaSetFixture.with(unixSockets: true) { set in
            let content = LocalReadTests.pattern(20_000)
            let id = try await Self.file(primary: 0, in: set, content: content)
            let local = set.unixClient(0)
            defer { local.shutdown() }
            let epoch = set.manager.view.epoch
            let file = try await local.open(id, flags: .read, context: Self.stamped(epoch))
            for _ in 0..<3 { _ = try await local.read(from: file, at: 0, count: 100, context: Self.stamped(epoch)) }
            #expect(local.localReadCount >= 1)
            let before = local.localReadCount
            await set.stopMember(0)
            // The word still says "in sync in this epoch" (nobody told the manager yet), but the member is gone.
            let started = ContinuousClock.now
            var refused = false
            while !refused, ContinuousClock.now - started < .seconds(10) {
                do {
                    _ = try await local.read(from: file, at: 0, count: 100, context: Self.stamped(epoch))
                } catch {
                    refused = true
                }
            }
            print("reads of a stopped member stopped after \(ContinuousClock.now - started)"
                + " (\(local.localReadCount - before) local reads in between)")
            #expect(refused, "reads of a stopped member still succeed after 10 s")
        }
    }
}
