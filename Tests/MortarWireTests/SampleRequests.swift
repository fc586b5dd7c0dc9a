import MortarCore
import MortarWire
import NIOCore

/// One instance of every request, so that codec tests cover the whole operation table.
enum Samples {
    static let file = OpenFile(id: FileID(high: 0xABCD, low: 42), handle: 7)
    static let id = FileID(high: 1, low: 2)
    static let parent = FileID.root
    static let lock = LockRequest(kind: .write, start: 10, length: 0, owner: 99, processID: 1234)

    static let requests: [Request] = [
        .lookup(name: "a file", parent: parent),
        .attributes(id),
        .attributesOfOpen(file),
        .setAttributes(
            AttributeChanges(
                permissions: 0o640, userID: 5, size: 1 << 40, accessTime: .now,
                modificationTime: .set(Timestamp(seconds: 7, nanoseconds: 9))), id),
        .checkAccess([.read, .write], id),
        .create(name: "é", parent: parent, id: id, permissions: 0o600, flags: [.readWrite, .create, .exclusive]),
        .open(id, flags: [.read, .direct]),
        .release(file),
        .read(file, offset: 1 << 33, count: 4096),
        .write(file, offset: 12, data: ByteBuffer(bytes: [1, 2, 3, 4, 5])),
        .truncate(file, size: 0),
        .synchronize(file, dataOnly: true),
        .flush(file),
        .allocate(file, offset: 0, length: 1 << 20, keepSize: true),
        .discard(file, offset: 4096, length: 8192),
        .zeroFill(file, offset: 1, length: 2),
        .seek(file, offset: 5, target: .hole),
        .lock(file, lock, wait: true),
        .testLock(file, lock),
        .unlink(name: "x", parent: parent),
        .makeDirectory(name: "d", parent: parent, id: id, permissions: 0o755),
        .removeDirectory(name: "d", parent: parent),
        .readDirectory(id, cookie: 77, countMax: 100),
        .rename(name: "a", parent: parent, newName: "b", newParent: id, flags: .noReplace),
        .link(id, name: "hard", parent: parent),
        .makeSymbolicLink(name: "s", parent: parent, id: id, target: "../target"),
        .readSymbolicLink(id),
        .makeNode(name: "tty1", parent: parent, id: id, type: .characterDevice, permissions: 0o620, device: 0x0401),
        .fileSystemStatistics,
        .extendedAttribute(name: "user.k", id),
        .setExtendedAttribute(name: "user.k", value: [0, 1, 255], mode: .createOnly, id),
        .extendedAttributeNames(id),
        .removeExtendedAttribute(name: "user.k", id),
        .control(.memberStatus),
        .openAndRead(id, flags: [.read, .noAccessTime], count: 65536),
        .lookupAndRead(name: "f", parent: parent, flags: .read, count: 4096),
        .grantLocalRead(file),
    ]

    /// One instance of every kind of control message (``ControlKind``), with every variant of its fields.
    static let controls: [ControlRequest] = [
        .heal(HealRequest(member: 2, item: .directory), file: id),
        .heal(HealRequest(member: 1, item: .file(ranges: nil)), file: id),
        .heal(HealRequest(member: 0, item: .file(ranges: [0..<4096, 8192..<8193])), file: id),
        .recordMissed(HealNote(members: [1, 2], changes: [.bytes(id, 4..<9), .metadata(id), .wholeFile(id), .directory(.root)])),
        .reconcile(HealNote(members: [0], changes: [])),
        .settleBarrier,
        .installView(
            ReplicaSetView(
                setIndex: 3, epoch: 7, members: [.inSync, .healing, .outOfSync], minInSync: 2,
                healSources: [nil, 0, nil], fullResync: [false, true, false])),
        .memberStatus,
        .metrics,
        .profile,
        .top(.write, count: 10),
        .clients,
        .fence(id),
        .unfence(id),
    ]

    /// Every request: one per opcode, then every control message.
    static let allRequests: [Request] = requests + controls.map(Request.control)

    static let attributes = FileAttributes(
        id: id, type: .regular, permissions: 0o644, linkCount: 2, userID: 1, groupID: 2, size: 3, blocks: 8,
        blockSize: 4096, deviceNumber: 0, accessTime: Timestamp(seconds: 1, nanoseconds: 2),
        modificationTime: Timestamp(seconds: 3), changeTime: Timestamp(seconds: -4, nanoseconds: 5))

    static let replies: [Reply] = [
        .none,
        .attributes(attributes),
        .created(CreatedFile(file: file, attributes: attributes)),
        .opened(file),
        .data(ByteBuffer(bytes: Array(repeating: 0xAA, count: 1000))),
        .number(UInt64.max),
        .lock(lock),
        .lock(nil),
        .page(DirectoryPage(entries: [DirectoryEntry(name: "n", attributes: attributes)], nextCookie: 5)),
        .page(DirectoryPage(entries: [], nextCookie: nil)),
        .text("target"),
        .statistics(
            FileSystemStatistics(
                blockSize: 4096, fragmentSize: 4096, blocks: 10, blocksFree: 5, blocksAvailable: 4, files: 100,
                filesFree: 50, filesAvailable: 49)),
        .bytes([9, 8, 7]),
        .names(["user.a", "user.b"]),
        .memberStatus(
            MemberStatus(
                epoch: 12, bytesHealed: 4096,
                pending: [MemberStatus.Pending(member: 1, files: 3, directories: 1, bytes: 65536)])),
        .openedWithHead(OpenedFile(file: file, head: ByteBuffer(bytes: [1, 2, 3]))),
        .found(FoundFile(attributes: attributes, opened: OpenedFile(file: file, head: ByteBuffer(bytes: [4, 5])))),
        .found(FoundFile(attributes: attributes, opened: nil)),
        .localReadGrant(LocalReadGrant(token: 0x0011_2233_4455_6677_8899_aabb_ccdd_eeff)),
        .profile(
            BrickProfile(
                profiling: true,
                cumulative: ProfileInterval(
                    nanoseconds: 5000,
                    operations: [
                        OperationProfile(
                            operation: "read", calls: 2, errors: 1, totalNanoseconds: 3000, minNanoseconds: 1000,
                            maxNanoseconds: 2000, p99Nanoseconds: 2048, bytesRead: 8192)
                    ]),
                interval: ProfileInterval())),
        .top(
            BrickTop(
                profiling: true,
                entries: [
                    TopEntry(id: id, path: "/a", count: 3, bytes: 4096), TopEntry(id: .root, path: nil, count: 1, bytes: 0),
                ])),
        .clients(
            BrickClients(
                total: 2,
                clients: [
                    ConnectedClient(
                        address: "127.0.0.1:5000", name: "fio", certificate: "admin", openFiles: 1, requests: 10,
                        bytesRead: 4096, bytesWritten: 8192, connectedSeconds: 60)
                ])),
    ]
}
