import MortarBrickServer
import MortarCore
import MortarDistribute
import MortarTesting
import Testing

/// The brick's permission layer over the in-memory file system: what an unprivileged caller may and may not do.
@Suite("Permissions for unprivileged callers")
struct PermissionLayerTests {
    let root = OperationContext()
    let alice = OperationContext(userID: 1000, groupID: 1000)
    let bob = OperationContext(userID: 2000, groupID: 2000, supplementaryGroupIDs: [1000])

    /// Root makes `/shared` (mode given) holding `file` owned by root (0644); returns the layer and the IDs.
    private func setUp(sharedMode: UInt32 = 0o755) async throws -> (PermissionLayer, FileID, FileID) {
        let layer = PermissionLayer(next: MemoryFileSystem())
        let shared = try await layer.makeDirectory("shared", in: .root, id: .random(), permissions: sharedMode,
                                                   context: root)
        let file = try await layer.create("file", in: shared.id, id: .random(), permissions: 0o644,
                                          flags: .readWrite, context: root)
        try await layer.release(file.file, context: root)
        return (layer, shared.id, file.file.id)
    }

    private func expectCode(
        _ code: FileSystemError.Code, _ body: () async throws -> Void, sourceLocation: SourceLocation = #_sourceLocation
    ) async {
        let error = await #expect(throws: FileSystemError.self, sourceLocation: sourceLocation) { try await body() }
        #expect(error?.code == code, sourceLocation: sourceLocation)
    }

    @Test func othersReadButDoNotWriteRootsFiles() async throws {
        let (layer, shared, file) = try await setUp()
        let opened = try await layer.open(file, flags: .read, context: alice)
        try await layer.release(opened, context: alice)
        await expectCode(.permissionDenied) { _ = try await layer.open(file, flags: .readWrite, context: alice) }
        await expectCode(.permissionDenied) {
            _ = try await layer.create("mine", in: shared, id: .random(), permissions: 0o644, flags: .readWrite,
                                       context: alice)
        }
        await expectCode(.permissionDenied) { try await layer.unlink("file", in: shared, context: alice) }
        await expectCode(.permissionDenied) {
            _ = try await layer.makeDirectory("d", in: shared, id: .random(), permissions: 0o755, context: alice)
        }
        await expectCode(.permissionDenied) {
            try await layer.rename("file", in: shared, to: "moved", in: .root, flags: [], context: alice)
        }
        // Root is never refused.
        try await layer.unlink("file", in: shared, context: root)
    }

    /// The compound reads of small files check what an open and a read would: search on the directory, read on
    /// the file. A caller without read permission gets the lookup's answer and no open file (its own open then
    /// fails); without search permission, nothing.
    @Test func smallFileReadsCheckLikeAnOpen() async throws {
        let memory = MemoryFileSystem()
        let layer = PermissionLayer(next: memory)
        let shared = try await layer.makeDirectory("shared", in: .root, id: .random(), permissions: 0o755, context: root)
        let secret = try await layer.create(
            "secret", in: shared.id, id: .random(), permissions: 0o600, flags: .readWrite, context: root)
        try await layer.release(secret.file, context: root)
        let found = try await layer.lookupAndRead("secret", in: shared.id, flags: .read, count: 10, context: alice)
        #expect(found.attributes.id == secret.file.id)
        #expect(found.opened == nil, "a caller without read permission got the file's bytes")
        #expect(memory.openHandleCount == 0, "the handle opened for the refused caller was left open")
        await expectCode(.permissionDenied) {
            _ = try await layer.openAndRead(secret.file.id, flags: .read, count: 10, context: alice)
        }
        let mine = try await layer.lookupAndRead("secret", in: shared.id, flags: .read, count: 10, context: root)
        #expect(mine.opened != nil)
        if let opened = mine.opened { try await layer.release(opened.file, context: root) }
        let closed = try await layer.makeDirectory("closed", in: .root, id: .random(), permissions: 0o700, context: root)
        await expectCode(.permissionDenied) {
            _ = try await layer.lookupAndRead("any", in: closed.id, flags: .read, count: 10, context: alice)
        }
    }

    @Test func searchPermissionGuardsNames() async throws {
        let (layer, shared, _) = try await setUp(sharedMode: 0o700)
        await expectCode(.permissionDenied) { _ = try await layer.lookup("file", in: shared, context: alice) }
        await expectCode(.permissionDenied) {
            _ = try await layer.readDirectory(shared, after: 0, countMax: 10, context: alice)
        }
        _ = try await layer.lookup("file", in: shared, context: root)
    }

    @Test func onlyTheOwnerChangesModeGroupAndTimes() async throws {
        let (layer, shared, file) = try await setUp(sharedMode: 0o777)
        await expectCode(.operationNotPermitted) {
            _ = try await layer.setAttributes(AttributeChanges(permissions: 0o666), of: file, context: alice)
        }
        let own = try await layer.create("own", in: shared, id: .random(), permissions: 0o644, flags: .readWrite,
                                         context: alice)
        _ = try await layer.setAttributes(AttributeChanges(permissions: 0o600), of: own.file.id, context: alice)
        await expectCode(.operationNotPermitted) {
            _ = try await layer.setAttributes(AttributeChanges(userID: 2000), of: own.file.id, context: alice)
        }
        await expectCode(.operationNotPermitted) {
            _ = try await layer.setAttributes(AttributeChanges(groupID: 2000), of: own.file.id, context: alice)
        }
        await expectCode(.operationNotPermitted) {
            _ = try await layer.setAttributes(
                AttributeChanges(modificationTime: .set(Timestamp(seconds: 5))), of: own.file.id, context: bob)
        }
        await expectCode(.permissionDenied) {
            _ = try await layer.setAttributes(AttributeChanges(size: 0), of: own.file.id, context: bob)
        }
    }

    /// mknod(2) without CAP_MKNOD: EPERM for device nodes, even in a directory anyone may write; FIFOs pass.
    @Test func onlyRootMakesDeviceNodes() async throws {
        let (layer, shared, _) = try await setUp(sharedMode: 0o777)
        for type in [FileType.characterDevice, .blockDevice] {
            await expectCode(.operationNotPermitted) {
                _ = try await layer.makeNode(
                    "device", in: shared, id: .random(), type: type, permissions: 0o666, device: 0x0103, context: alice)
            }
        }
        let fifo = try await layer.makeNode(
            "fifo", in: shared, id: .random(), type: .fifo, permissions: 0o600, device: 0, context: alice)
        #expect(fifo.type == .fifo)
        let device = try await layer.makeNode(
            "null", in: shared, id: .random(), type: .characterDevice, permissions: 0o666, device: 0x0103, context: root)
        #expect(device.type == .characterDevice && device.deviceNumber == 0x0103)
    }

    @Test func groupMembershipGrantsGroupBits() async throws {
        let (layer, shared, _) = try await setUp(sharedMode: 0o777)
        let created = try await layer.create("team", in: shared, id: .random(), permissions: 0o660,
                                             flags: .readWrite, context: alice)
        let opened = try await layer.open(created.file.id, flags: .readWrite, context: bob)
        try await layer.release(opened, context: bob)
        await expectCode(.permissionDenied) {
            _ = try await layer.open(created.file.id, flags: .read, context: OperationContext(userID: 3000, groupID: 3000))
        }
    }

    @Test func theStickyBitProtectsOthersEntries() async throws {
        let (layer, shared, _) = try await setUp(sharedMode: 0o1777)
        _ = try await layer.create("alices", in: shared, id: .random(), permissions: 0o644, flags: .readWrite,
                                   context: alice)
        await expectCode(.permissionDenied) { try await layer.unlink("alices", in: shared, context: bob) }
        await expectCode(.permissionDenied) {
            try await layer.rename("alices", in: shared, to: "bobs", in: shared, flags: [], context: bob)
        }
        try await layer.unlink("alices", in: shared, context: alice)
    }

    /// The sticky check on a rename's target fails closed: only ENOENT from the lookup means "no target"; an I/O
    /// error must fail the rename, never let it replace a file the check could not see.
    @Test func theStickyCheckOnARenameTargetFailsClosed() async throws {
        let harness = LayerHarness(next: MemoryFileSystem())
        let layer = PermissionLayer(next: harness)
        let sticky = try await layer.makeDirectory("tmp", in: .root, id: .random(), permissions: 0o1777, context: root)
        let open = try await layer.makeDirectory("open", in: .root, id: .random(), permissions: 0o777, context: root)
        let alices = try await layer.create("alices", in: sticky.id, id: .random(), permissions: 0o644,
                                            flags: .readWrite, context: alice)
        try await layer.release(alices.file, context: alice)
        let bobs = try await layer.create("bobs", in: open.id, id: .random(), permissions: 0o644, flags: .readWrite,
                                          context: bob)
        try await layer.release(bobs.file, context: bob)
        // The source directory is not sticky, so the only lookup is the target's.
        for code in [FileSystemError.Code.inputOutput, .notConnected, .timedOut] {
            harness.failNext(.lookup, with: FileSystemError(code, "injected"))
            harness.clearRecorded()
            await expectCode(code) {
                try await layer.rename("bobs", in: open.id, to: "alices", in: sticky.id, flags: [], context: bob)
            }
            #expect(harness.count(of: .rename) == 0, "the rename went ahead after \(code)")
        }
        #expect(try await layer.lookup("alices", in: sticky.id, context: root).id == alices.file.id)
        // ENOENT really means there is no target: the rename goes ahead.
        try await layer.rename("bobs", in: open.id, to: "new", in: sticky.id, flags: [], context: bob)
        #expect(try await layer.lookup("new", in: sticky.id, context: root).id == bobs.file.id)
    }

    @Test func extendedAttributesFollowTheFilesPermissions() async throws {
        let (layer, _, file) = try await setUp()
        await expectCode(.permissionDenied) {
            try await layer.setExtendedAttribute("user.note", to: [1], mode: .createOrReplace, of: file, context: alice)
        }
        await expectCode(.operationNotPermitted) {
            try await layer.setExtendedAttribute("trusted.other", to: [1], mode: .createOrReplace, of: file,
                                                 context: alice)
        }
        try await layer.setExtendedAttribute("user.note", to: [1], mode: .createOrReplace, of: file, context: root)
        #expect(try await layer.extendedAttribute("user.note", of: file, context: alice) == [1])
    }

    /// Mortar's own attributes: anyone reads them, only root and bricks' roles write them, except distribute's
    /// link-file attribute, which the file's owner may set (distribute writes it on the owner's behalf).
    @Test func mortarAttributesAreRootsExceptTheOwnersLinkTo() async throws {
        let (layer, shared, rootsFile) = try await setUp(sharedMode: 0o777)
        let own = try await layer.create("own", in: shared, id: .random(), permissions: 0o644, flags: .readWrite,
                                         context: alice)
        try await layer.release(own.file, context: alice)
        let linkTo = Distribute.linkToAttribute
        try await layer.setExtendedAttribute(linkTo, to: Array("1".utf8), mode: .createOrReplace, of: own.file.id,
                                             context: alice)
        #expect(try await layer.extendedAttribute(linkTo, of: own.file.id, context: bob) == Array("1".utf8))
        await expectCode(.operationNotPermitted) {
            try await layer.setExtendedAttribute(linkTo, to: Array("0".utf8), mode: .createOrReplace, of: rootsFile,
                                                 context: alice)
        }
        await expectCode(.operationNotPermitted) {
            try await layer.setExtendedAttribute(linkTo, to: Array("0".utf8), mode: .createOrReplace, of: own.file.id,
                                                 context: bob)
        }
        for name in ["trusted.mortar.heal", "trusted.mortar.reconcile", "trusted.mortar.anything"] {
            await expectCode(.operationNotPermitted) {
                try await layer.setExtendedAttribute(name, to: [1], mode: .createOrReplace, of: own.file.id,
                                                     context: alice)
            }
        }
        await expectCode(.operationNotPermitted) { try await layer.removeExtendedAttribute(linkTo, of: rootsFile, context: alice) }
        try await layer.setExtendedAttribute("trusted.mortar.anything", to: [1], mode: .createOrReplace, of: rootsFile,
                                             context: root)
    }
}
