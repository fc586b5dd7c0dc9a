import MortarCore
import MortarPosixStorage
import NIOCore
import Testing

@Suite("Attributes and access checks")
struct AttributeTests {
    @Test func setAttributesChangesModeOwnerSizeAndTimes() async throws {
        try await TestBrick.with { brick in
            let id = try await brick.createFile("target", contents: "0123456789").attributes.id
            let changed = try await brick.storage.setAttributes(
                AttributeChanges(permissions: 0o4711, userID: 42, groupID: 43, size: 3,
                                 accessTime: .set(Timestamp(seconds: 1_000, nanoseconds: 5)),
                                 modificationTime: .set(Timestamp(seconds: 2_000))),
                of: id, context: brick.context)
            #expect(changed.permissions == 0o4711)
            #expect(changed.userID == 42 && changed.groupID == 43)
            #expect(changed.size == 3)
            #expect(changed.accessTime == Timestamp(seconds: 1_000, nanoseconds: 5))
            #expect(changed.modificationTime == Timestamp(seconds: 2_000))
            let touched = try await brick.storage.setAttributes(
                AttributeChanges(modificationTime: .now), of: id, context: brick.context)
            #expect(touched.modificationTime > Timestamp(seconds: 2_000))
            #expect(touched.accessTime == Timestamp(seconds: 1_000, nanoseconds: 5))
            let directory = try await brick.makeDirectory("dir")
            await expectError(.isDirectory) {
                try await brick.storage.setAttributes(AttributeChanges(size: 0), of: directory.id, context: brick.context)
            }
        }
    }

    @Test func symbolicLinkKeepsItsModeButTakesOwnerAndTimes() async throws {
        try await TestBrick.with { brick in
            let link = try await brick.storage.makeSymbolicLink(
                "link", in: .root, id: .random(), target: "nowhere", context: brick.context)
            let changed = try await brick.storage.setAttributes(
                AttributeChanges(permissions: 0o600, userID: 9, modificationTime: .set(Timestamp(seconds: 77))),
                of: link.id, context: brick.context)
            #expect(changed.permissions == link.permissions)
            #expect(changed.userID == 9)
            #expect(changed.modificationTime == Timestamp(seconds: 77))
        }
    }

    @Test func checkAccessUsesTheCallersIdentity() async throws {
        try await TestBrick.with { brick in
            let id = try await brick.createFile("guarded").attributes.id
            _ = try await brick.storage.setAttributes(
                AttributeChanges(permissions: 0o640, userID: 100, groupID: 200), of: id, context: brick.context)
            let owner = OperationContext(userID: 100, groupID: 1)
            let member = OperationContext(userID: 101, groupID: 1, supplementaryGroupIDs: [200])
            let stranger = OperationContext(userID: 102, groupID: 1)
            try await brick.storage.checkAccess([.read, .write], to: id, context: owner)
            try await brick.storage.checkAccess(.read, to: id, context: member)
            try await brick.storage.checkAccess([], to: id, context: stranger)
            await expectError(.permissionDenied) { try await brick.storage.checkAccess(.write, to: id, context: member) }
            await expectError(.permissionDenied) { try await brick.storage.checkAccess(.read, to: id, context: stranger) }
            // Root reads and writes anything, but executes only what some execute bit allows.
            try await brick.storage.checkAccess([.read, .write], to: id, context: brick.context)
            await expectError(.permissionDenied) { try await brick.storage.checkAccess(.execute, to: id, context: brick.context) }
            try await brick.storage.checkAccess(.execute, to: .root, context: brick.context)
            await expectError(.notFound) { try await brick.storage.checkAccess([], to: .random(), context: owner) }
        }
    }
}
