import MortarCore
import MortarTesting
import NIOCore
import Testing

@testable import MortarWire

/// The control messages of replication on the wire: every kind sampled, every bound enforced before anything is
/// allocated, and no input — malformed or mutated — traps or yields a view that does not hold together.
@Suite struct ControlCodecTests {
    @Test func everyControlKindHasASample() {
        #expect(Set(Samples.controls.map(ControlKind.init)) == Set(ControlKind.allCases))
    }

    @Test(arguments: Samples.controls.indices)
    func controlRoundTrip(index: Int) throws {
        let request = Samples.controls[index]
        let decoded = try Self.decode(Self.payload(of: request))
        #expect(decoded == request)
    }

    @Test func aStatusReplyRoundTrips() throws {
        let status = MemberStatus(
            epoch: 3, bytesHealed: 1 << 40,
            pending: [
                MemberStatus.Pending(member: 0, files: 5, directories: 2, bytes: 0),
                MemberStatus.Pending(member: 4, files: 0, directories: 0, bytes: 9),
            ])
        var buffer = ByteBuffer()
        Reply.memberStatus(status).encode(into: &buffer)
        #expect(try Reply.decode(buffer).control() == .memberStatus(status))
        #expect(try Reply.none.control() == .done)
        // A fence's answer is the number of opens elsewhere; any other shape is no control reply.
        #expect(try Reply(ControlReply.fenced(openElsewhere: 2)).control() == .fenced(openElsewhere: 2))
        #expect(try Reply.number(UInt64.max).control() == .fenced(openElsewhere: Int.max))
        #expect(throws: FileSystemError.self) { try Reply.text("1").control() }
        #expect(throws: FileSystemError.self) { try ControlReply.done.status() }
    }

    /// Each malformed body is refused with a message naming what was wrong.
    @Test(arguments: [
        ([0], "invalid control message kind 0"),
        ([13], "invalid control message kind 13"),
        // Top: an unknown kind, no files, more files than a brick sends.
        ([9, 5, 0, 10], "invalid top kind 5"),
        ([9, 1, 0, 0], "top of 0 files"),
        ([9, 1, 0, 101], "top of 101 files"),
        // A heal for member 5 of a set of at most 5.
        ([1] + Self.id + [5, 0], "outside a set"),
        ([1] + Self.id + [1, 3], "invalid heal item 3"),
        // Ranges: a count past the bound, then an inverted range.
        ([1] + Self.id + [1, 2] + Self.u32(1_000_000), "heal ranges exceed"),
        ([1] + Self.id + [1, 2] + Self.u32(1) + Self.u64(9) + Self.u64(3), "inverted heal range"),
        // Notes: no members, a member out of range, too many changes, an unknown change kind.
        ([2, 0] + Self.u32(0), "names 0 members"),
        ([2, 1, 9] + Self.u32(0), "outside a set"),
        ([3, 1, 0] + Self.u32(257), "changes in a heal note exceed"),
        ([2, 1, 0] + Self.u32(1) + [4] + Self.id, "invalid heal change kind 4"),
        // Views: too many members, an unknown state, a member that heals from itself, a min-in-sync of 0.
        ([5] + Self.u32(0) + Self.u64(1) + [1, 6], "view of 6 members"),
        ([5] + Self.u32(0) + Self.u64(1) + [1, 1, 3, 0, 0], "invalid member state 3"),
        ([5] + Self.u32(0) + Self.u64(1) + [1, 2, 0, 0, 0, 1, 1, 1, 0], "has heal source 1"),
        ([5] + Self.u32(0) + Self.u64(1) + [0, 1, 0, 0, 0], "min-in-sync 0"),
        ([5] + Self.u32(0) + Self.u64(0) + [1, 1, 0, 0, 0], "epoch 0"),
    ] as [([UInt8], String)])
    func malformedBodiesAreRefusedByName(body: [UInt8], reason: String) throws {
        var payload = Self.head()
        payload.writeBytes(body)
        let error = #expect(throws: WireError.self) { try Request.decode(payload) }
        #expect(error?.reason.contains(reason) == true, "\(String(describing: error)) should say '\(reason)'")
    }

    @Test func aStatusReplyOutOfBoundsIsRefused() {
        var tooMany = ByteBuffer()
        tooMany.writeInteger(Reply.Tag.memberStatus.rawValue)
        tooMany.writeInteger(UInt64(1))
        tooMany.writeInteger(UInt64(0))
        tooMany.writeInteger(UInt8(200))
        #expect(throws: WireError.self) { try Reply.decode(tooMany) }
        var negative = ByteBuffer()
        negative.writeInteger(Reply.Tag.memberStatus.rawValue)
        negative.writeInteger(UInt64(1))
        negative.writeInteger(UInt64(0))
        negative.writeInteger(UInt8(1))
        negative.writeInteger(UInt8(0))
        negative.writeInteger(UInt64.max)
        negative.writeInteger(UInt64(0))
        negative.writeInteger(UInt64(0))
        #expect(throws: WireError.self) { try Reply.decode(negative) }
    }

    /// The answers to profile, top and client requests come back as the control replies they were.
    @Test(arguments: Samples.replies.filter { [.profile, .top, .clients].contains($0.tag) })
    func diagnosticsRepliesRoundTrip(reply: Reply) throws {
        var buffer = ByteBuffer()
        reply.encode(into: &buffer)
        #expect(try Reply.decode(buffer).control() == reply.control())
    }

    /// A brick cuts what it sends to the bounds (a peer's reader refuses more): an over-long list is cut, an
    /// over-long string clipped to whole characters, and what is sent decodes.
    @Test func diagnosticsRepliesAreCutToTheirBounds() throws {
        let entry = TopEntry(id: .root, path: "/" + String(repeating: "é", count: Limits.pathByteCountMax), count: 1, bytes: 0)
        let top = BrickTop(profiling: true, entries: Array(repeating: entry, count: Limits.profileTopCountMax + 5))
        var buffer = ByteBuffer()
        Reply.top(top).encode(into: &buffer)
        guard case .top(let decoded) = try Reply.decode(buffer).control() else {
            Issue.record("a top reply decoded as something else")
            return
        }
        #expect(decoded.entries.count == Limits.profileTopCountMax)
        let path = try #require(decoded.entries.first?.path)
        #expect(path.utf8.count <= Limits.pathByteCountMax && path.utf8.count > Limits.pathByteCountMax - 2)
        #expect(path.hasPrefix("/é"))
        // A reader refuses a list longer than its bound, and a client list longer than its total.
        var tooMany = ByteBuffer()
        tooMany.writeInteger(Reply.Tag.top.rawValue)
        tooMany.writeInteger(UInt8(1))
        tooMany.writeInteger(UInt16(Limits.profileTopCountMax + 1))
        #expect(throws: WireError.self) { try Reply.decode(tooMany) }
        var moreThanTotal = ByteBuffer()
        moreThanTotal.writeInteger(Reply.Tag.clients.rawValue)
        moreThanTotal.writeInteger(UInt32(0))
        moreThanTotal.writeInteger(UInt16(1))
        #expect(throws: WireError.self) { try Reply.decode(moreThanTotal) }
    }

    /// The largest replies the bounds allow — every list at its bound, every string at its longest — still fit in
    /// a frame (encoding a frame past `Limits.frameByteCountMax` is a precondition failure: a crashed brick).
    @Test func theLargestDiagnosticsRepliesFitInAFrame() {
        let long = { (count: Int) in String(repeating: "x", count: count) }
        let operation = OperationProfile(
            operation: long(Limits.profileOperationNameByteCountMax), calls: .max, errors: .max, totalNanoseconds: .max)
        let interval = ProfileInterval(
            nanoseconds: .max, operations: Array(repeating: operation, count: Limits.profileOperationsMax))
        let entry = TopEntry(id: .root, path: long(Limits.pathByteCountMax), count: .max, bytes: .max)
        let client = ConnectedClient(
            address: long(Limits.clientAddressByteCountMax), name: long(Limits.nameByteCountMax),
            certificate: long(Limits.nameByteCountMax), openFiles: .max, requests: .max, bytesRead: .max,
            bytesWritten: .max, connectedSeconds: .max)
        let replies: [Reply] = [
            .profile(BrickProfile(profiling: true, cumulative: interval, interval: interval)),
            .top(BrickTop(profiling: true, entries: Array(repeating: entry, count: Limits.profileTopCountMax))),
            .clients(BrickClients(total: .max, clients: Array(repeating: client, count: Limits.brickClientsReportedMax))),
        ]
        for reply in replies {
            var buffer = ByteBuffer()
            reply.encode(into: &buffer)
            // Room for the frame's own header (kind, request id, length) besides the payload.
            #expect(buffer.readableBytes + 64 <= Limits.frameByteCountMax, "\(reply.tag) takes \(buffer.readableBytes) bytes")
        }
    }

    /// Bytes of each sample changed at random: decoding gives a value or a WireError, never a trap, and a view
    /// that decodes is one that holds together.
    @Test(arguments: [11, 12, 13] as [UInt64])
    func mutatedControlMessagesNeverTrap(seed: UInt64) {
        var generator = SplitMix64(seed: seed)
        let payloads = Samples.controls.map { Array(Self.payload(of: $0).readableBytesView) }
        let headCount = Self.head().readableBytes
        var decodedCount = 0
        for round in 0..<4000 {
            var bytes = payloads[round % payloads.count]
            guard bytes.count > headCount else { continue }
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                bytes[Int.random(in: headCount..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            if Bool.random(using: &generator) { bytes.removeLast(Int.random(in: 0..<min(4, bytes.count - headCount), using: &generator)) }
            guard let (request, _) = try? Request.decode(ByteBuffer(bytes: bytes)) else { continue }
            decodedCount += 1
            if case .control(.installView(let view)) = request {
                #expect(throws: Never.self) { try view.checkConsistency() }
            }
        }
        #expect(decodedCount > 0, "some mutations leave a valid message; none did, so the decoder refuses everything")
    }

    // MARK: Helpers

    static let id: [UInt8] = u64(1) + u64(2)
    static func u32(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.bigEndian, Array.init) }
    static func u64(_ value: UInt64) -> [UInt8] { withUnsafeBytes(of: value.bigEndian, Array.init) }

    /// A control request's opcode and credentials, before its kind.
    static func head() -> ByteBuffer {
        var buffer = ByteBuffer()
        Request.control(.settleBarrier).encode(credentials: CodecTests.credentials, into: &buffer)
        buffer.moveWriterIndex(to: buffer.writerIndex - 1)
        return buffer
    }

    static func payload(of request: ControlRequest) -> ByteBuffer {
        var buffer = ByteBuffer()
        Request.control(request).encode(credentials: CodecTests.credentials, into: &buffer)
        return buffer
    }

    static func decode(_ payload: ByteBuffer) throws -> ControlRequest {
        guard case (.control(let request), _) = try Request.decode(payload) else {
            throw WireError("not a control request")
        }
        return request
    }
}
