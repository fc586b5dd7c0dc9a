import MortarCore
import Testing

@Suite("Core values")
struct CoreValueTests {
    @Test("FileID survives its text form and its bytes", arguments: 0..<20)
    func fileIDRoundTrips(_ index: Int) throws {
        let id = index == 0 ? FileID.root : FileID.random()
        #expect(FileID(id.description) == id)
        #expect(FileID(id.description.filter { $0 != "-" }) == id)
        #expect(id.bytes.count == 16)
        #expect(FileID(bytes: id.bytes) == id)
    }

    @Test("FileID text has the UUID shape and rejects malformed input")
    func fileIDText() {
        #expect(FileID.root.description == "00000000-0000-0000-0000-000000000001")
        let every = FileID(high: 0x0123_4567_89ab_cdef, low: 0xfedc_ba98_7654_3210)
        #expect(every.description == "01234567-89ab-cdef-fedc-ba9876543210", "each group, each digit in place")
        #expect(every.bytes == [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10])
        #expect(FileID("01234567-89AB-CDEF-FEDC-BA9876543210") == every, "upper case")
        #expect(FileID("not a file id") == nil)
        #expect(FileID("0000") == nil)
        #expect(FileID("01234567-89ab-cdef-fedc-ba98765432100") == nil, "33 digits")
        #expect(FileID("01234567-89ab-cdef-fedc-ba987654321g") == nil, "not a hex digit")
        #expect(FileID("+1234567-89ab-cdef-fedc-ba9876543210") == nil, "a sign")
        #expect(FileID(bytes: [1, 2, 3]) == nil)
        let id = FileID.random()
        #expect(id.high & 0xF000 == 0x4000, "version 4")
    }

    @Test("OpenFlags convert to Linux open(2) flags and back")
    func openFlagsRoundTrip() {
        let singles: [OpenFlags] = [
            .create, .exclusive, .truncate, .append, .direct, .synchronous, .dataSynchronous, .noFollow, .directory,
            .noAccessTime,
        ]
        for access: OpenFlags in [.read, .write, .readWrite] {
            #expect(OpenFlags(posixFlags: access.posixFlags) == access)
            for flag in singles {
                let flags = access.union(flag)
                // Linux's O_SYNC includes O_DSYNC's bit, so synchronous comes back with dataSynchronous too.
                let expected = flag == .synchronous ? flags.union(.dataSynchronous) : flags
                #expect(OpenFlags(posixFlags: flags.posixFlags) == expected, "round trip of \(flags.rawValue)")
            }
        }
        #expect(OpenFlags(posixFlags: 0) == .read)
        #expect(OpenFlags(posixFlags: 0o1 | 0o100 | 0o200) == [.write, .create, .exclusive])
        #expect(OpenFlags(posixFlags: 0o2 | 0o2000) == [.readWrite, .append])
    }

    @Test("EntryName.validate accepts ordinary names and refuses the rest")
    func entryNames() throws {
        for name in ["a", "hello world", "naïve", "日本", ".hidden", "...", String(repeating: "x", count: 255)] {
            try EntryName.validate(name)
        }
        let refused: [(String, FileSystemError.Code)] = [
            ("", .invalidArgument), (".", .invalidArgument), ("..", .invalidArgument), ("a/b", .invalidArgument),
            ("nul\0byte", .invalidArgument), (String(repeating: "x", count: 256), .nameTooLong),
            (String(repeating: "é", count: 128), .nameTooLong),
        ]
        for (name, code) in refused {
            #expect(throws: FileSystemError.self) { try EntryName.validate(name) }
            do {
                try EntryName.validate(name)
            } catch let error as FileSystemError {
                #expect(error.code == code, "code for a \(name.utf8.count)-byte name")
            }
        }
    }

    @Test("FileSystemError says its reason once")
    func errorDescriptionDoesNotRepeatTheReason() {
        #expect(FileSystemError(.notFound, "open /a").description == "open /a: No such file or directory")
        #expect(FileSystemError(.notFound, "").description == "No such file or directory")
        // One error's description quoted in another's message already says the reason.
        let quoted = FileSystemError(
            .connectionRefused, "no server answered; tried h:1 (cannot reach h:1: Connection refused)")
        #expect(quoted.description == quoted.message)
        #expect(FileSystemError(.connectionRefused, "cannot reach h:1").description
            == "cannot reach h:1: Connection refused")
    }

    @Test("Limits keep their relations")
    func limitRelations() {
        #expect(Limits.localReadClaimMilliseconds > 2 * Limits.localReadHandoffMilliseconds, "a claim outwaits one silent client")
        #expect(Limits.localReadGrantsMax <= Limits.brickReservedDescriptors / 4, "grants fit in the brick's reserve")
        #expect(Int64(Limits.localReadClaimMilliseconds) < Limits.localReadGrantMilliseconds, "a grant outlives its claim")
        #expect(Limits.frameByteCountMax >= Limits.ioByteCountMax + Limits.frameHeaderByteCountMax)
        #expect(Limits.extendedAttributeValueByteCountMax < Limits.frameHeaderByteCountMax + Limits.ioByteCountMax)
        #expect(Limits.extendedAttributeNamesByteCountMax <= Limits.frameByteCountMax)
        #expect(Limits.pathByteCountMax > Limits.nameByteCountMax)
        #expect(Limits.directoryPageEntriesMax * (Limits.nameByteCountMax + 256) <= Limits.frameByteCountMax)
        #expect(Limits.serverRequestsInFlightPerConnectionMax >= Limits.requestsInFlightPerConnectionMax)
        #expect(Limits.brickRestartBackoffMinMilliseconds < Limits.brickRestartBackoffMaxMilliseconds)
        #expect(Limits.connectTimeoutMilliseconds < Limits.reconnectWindowMilliseconds)
        #expect(Limits.reconnectWindowMilliseconds < Limits.requestTimeoutMilliseconds)
        #expect(Limits.managementMessageByteCountMax <= Limits.frameByteCountMax * 8)
        #expect(Limits.placementCacheEntriesMax > 0 && Limits.bricksPerVolumeMax > 0)
        #expect(Limits.writeBehindFileByteCountMax >= Limits.ioByteCountMax)
        #expect(Limits.writeBehindFileByteCountMax <= Limits.writeBehindVolumeByteCountMax)
        #expect(Limits.writeBehindFileWritesMax <= Limits.requestsInFlightPerConnectionMax)
        // The failure detector: a quorum's last member waits longer than anyone, yet less than a client's
        // failover window.
        #expect(Limits.replicaSilenceMaxMilliseconds < Limits.replicaQuorumSilenceMaxMilliseconds)
        #expect(Limits.replicaQuorumSilenceMaxMilliseconds < Limits.replicaFailoverWindowMilliseconds)
    }
}
