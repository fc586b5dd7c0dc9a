import Foundation
import MortarCore
import MortarTesting
import NIOCore
import Testing

/// A rebalance's fence on a real brick (``ControlRequest/fence(_:)``): it counts the opens other connections
/// hold, refuses their new opens and changes of the file with EINPROGRESS while the fencing connection may do
/// anything, and goes away with the fencing connection.
@Suite("Migration fence")
struct MigrationFenceTests {
    static let context = OperationContext()

    @Test func aFenceCountsOpensRefusesOthersAndDiesWithItsConnection() async throws {
        let brick = try await LoopbackBrick.start()
        defer { brick.removeDirectory() }
        let holder = brick.makeClient(name: "holder")
        let mover = brick.makeClient(name: "mover")
        let other = brick.makeClient(name: "other")
        let created = try await holder.create(
            "f", in: .root, id: .random(), permissions: 0o644, flags: [.readWrite, .create], context: Self.context)
        let id = created.attributes.id

        // The holder's open counts; the mover's own open does not.
        let own = try await mover.open(id, flags: .read, context: Self.context)
        #expect(try await mover.control(.fence(id), context: Self.context) == .fenced(openElsewhere: 1))
        try await holder.release(created.file, context: Self.context)
        // A release is sent without waiting for its reply: the brick counts it gone once it has run.
        let deadline = ContinuousClock.now + .seconds(30)
        while try await mover.control(.fence(id), context: Self.context) != .fenced(openElsewhere: 0) {
            #expect(ContinuousClock.now < deadline, "the released open still counted after 30 s")
            if ContinuousClock.now >= deadline { break }
            try await Task.sleep(for: .milliseconds(10))
        }

        // Others are refused opens, changes by FileID and by name; reads of attributes go on.
        func refused(_ what: String, _ body: () async throws -> Void) async {
            do {
                try await body()
                Issue.record("\(what) was not refused under the fence")
            } catch let error as FileSystemError {
                #expect(error.code == .beingMoved, "\(what): \(error)")
            } catch {
                Issue.record("\(what): \(error)")
            }
        }
        await refused("open") { _ = try await other.open(id, flags: .read, context: Self.context) }
        await refused("openAndRead") { _ = try await other.openAndRead(id, flags: .read, count: 10, context: Self.context) }
        await refused("create of the existing name") {
            _ = try await other.create("f", in: .root, id: .random(), permissions: 0o644, flags: [.readWrite, .create], context: Self.context)
        }
        await refused("chmod") { _ = try await other.setAttributes(AttributeChanges(permissions: 0o600), of: id, context: Self.context) }
        await refused("setxattr") {
            try await other.setExtendedAttribute("user.x", to: [1], mode: .createOrReplace, of: id, context: Self.context)
        }
        await refused("unlink") { try await other.unlink("f", in: .root, context: Self.context) }
        await refused("rename away") { try await other.rename("f", in: .root, to: "g", in: .root, flags: [], context: Self.context) }
        await refused("link") { _ = try await other.link(id, as: "h", in: .root, context: Self.context) }
        _ = try await other.attributes(of: id, context: Self.context)
        let found = try await other.lookupAndRead("f", in: .root, flags: .read, count: 10, context: Self.context)
        #expect(found.opened == nil, "a fenced file was opened by lookupAndRead")
        // A second mover cannot fence the same file.
        await #expect(throws: FileSystemError.self) { _ = try await other.control(.fence(id), context: Self.context) }

        // The mover itself may change it; lifting the fence lets others in.
        _ = try await mover.setAttributes(AttributeChanges(permissions: 0o640), of: id, context: Self.context)
        try await mover.release(own, context: Self.context)
        _ = try await mover.control(.unfence(id), context: Self.context)
        let opened = try await other.open(id, flags: .read, context: Self.context)
        try await other.release(opened, context: Self.context)

        // A fence whose connection goes is lifted with it.
        _ = try await mover.control(.fence(id), context: Self.context)
        await refused("open under a second fence") { _ = try await other.open(id, flags: .read, context: Self.context) }
        mover.shutdown()
        // The brick notices the closed connection at once; 30 s is the generous bound.
        let liftedBy = ContinuousClock.now + .seconds(30)
        var lifted = false
        while !lifted, ContinuousClock.now < liftedBy {
            do {
                let file = try await other.open(id, flags: .read, context: Self.context)
                try await other.release(file, context: Self.context)
                lifted = true
            } catch let error as FileSystemError where error.code == .beingMoved {
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        #expect(lifted, "the fence outlived its connection by 30 s")
        holder.shutdown()
        other.shutdown()
        await brick.stop()
    }
}
