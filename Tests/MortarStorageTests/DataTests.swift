import MortarCore
import MortarPosixStorage
import NIOCore
import Testing

@Suite("Sparse files: allocate, discard, zero fill, seek")
struct DataTests {
    static let mebibyte: UInt64 = 1 << 20

    @Test func seekFindsDataAndHolesInASparseFile() async throws {
        try await TestBrick.with { brick in
            let created = try await brick.createFile("sparse")
            let file = created.file
            // Data at 0..<4 KiB and 2 MiB..<2 MiB+4 KiB, a hole between.
            let block = ByteBuffer(repeating: 0x61, count: 4096)
            _ = try await brick.storage.write(block, to: file, at: 0, context: brick.context)
            _ = try await brick.storage.write(block, to: file, at: 2 * Self.mebibyte, context: brick.context)
            let hole = try await brick.storage.seek(file, from: 0, to: .hole, context: brick.context)
            #expect(hole >= 4096 && hole < 2 * Self.mebibyte)
            let data = try await brick.storage.seek(file, from: hole, to: .data, context: brick.context)
            #expect(data > hole && data <= 2 * Self.mebibyte)
            await expectError(.noSuchDeviceOrAddress) {
                try await brick.storage.seek(file, from: 3 * Self.mebibyte, to: .data, context: brick.context)
            }
            // Discarding the first block leaves a hole at 0 and keeps the size.
            try await brick.storage.discard(file, at: 0, length: 4096, context: brick.context)
            #expect(try await brick.storage.seek(file, from: 0, to: .hole, context: brick.context) == 0)
            let attributes = try await brick.storage.attributes(ofOpen: file, context: brick.context)
            #expect(attributes.size == 2 * Self.mebibyte + 4096)
            let zeros = try await brick.storage.read(from: file, at: 0, count: 4096, context: brick.context)
            #expect(zeros.readableBytesView.allSatisfy { $0 == 0 })
        }
    }

    @Test func zeroFillAndAllocate() async throws {
        try await TestBrick.with { brick in
            let created = try await brick.createFile("zeros")
            let file = created.file
            _ = try await brick.storage.write(ByteBuffer(repeating: 0x7A, count: 8192), to: file, at: 0,
                                              context: brick.context)
            try await brick.storage.zeroFill(file, at: 1024, length: 2048, context: brick.context)
            let bytes = Array(try await brick.storage.read(from: file, at: 0, count: 8192, context: brick.context)
                .readableBytesView)
            #expect(bytes.count == 8192)
            #expect(bytes[0..<1024].allSatisfy { $0 == 0x7A })
            #expect(bytes[1024..<3072].allSatisfy { $0 == 0 })
            #expect(bytes[3072...].allSatisfy { $0 == 0x7A })
            try await brick.storage.allocate(file, at: 0, length: 65536, keepSize: true, context: brick.context)
            #expect(try await brick.storage.attributes(ofOpen: file, context: brick.context).size == 8192)
            try await brick.storage.allocate(file, at: 0, length: 65536, keepSize: false, context: brick.context)
            let grown = try await brick.storage.attributes(ofOpen: file, context: brick.context)
            #expect(grown.size == 65536 && grown.blocks >= 128)
        }
    }

    @Test func oversizedAndOutOfRangeRequestsAreRefused() async throws {
        try await TestBrick.with { brick in
            let created = try await brick.createFile("bounds")
            await expectError(.invalidArgument) {
                try await brick.storage.read(from: created.file, at: 0, count: Limits.ioByteCountMax + 1,
                                             context: brick.context)
            }
            await expectError(.invalidArgument) {
                try await brick.storage.read(from: created.file, at: UInt64.max, count: 1, context: brick.context)
            }
        }
    }
}
