import MortarCore
import MortarPosixStorage
import Testing

@Suite("Resolving deeply nested directories through the handle index")
struct DeepNestingTests {
    /// Deeper than the kernel's 40 nested symbolic links: the brick reads the chain itself.
    @Test func fiftyLevelsResolve() async throws {
        try await TestBrick.with { brick in
            var parent = FileID.root
            for _ in 0..<50 { parent = try await brick.makeDirectory("d", in: parent).id }
            _ = try await brick.createFile("bottom", in: parent)
            try await brick.storage.rename("d", in: .root, to: "e", in: .root, flags: [], context: brick.context)
            #expect(try await brick.storage.attributes(of: parent, context: brick.context).id == parent)
            #expect(try await brick.storage.lookup("bottom", in: parent, context: brick.context).type == .regular)
        }
    }

    /// Past ``Limits/directoryDepthMax`` resolution stops with ELOOP instead of walking without bound.
    @Test func nestingBeyondTheLimitIsRefused() async throws {
        try await TestBrick.with { brick in
            var parent = FileID.root
            var chain: [FileID] = []
            for _ in 0...Limits.directoryDepthMax {
                parent = try await brick.makeDirectory("d", in: parent).id
                chain.append(parent)
            }
            let deepestAllowed = chain[Limits.directoryDepthMax - 1]
            #expect(try await brick.storage.attributes(of: deepestAllowed, context: brick.context).id == deepestAllowed)
            await expectError(.symbolicLinkLoop) { try await brick.storage.attributes(of: parent, context: brick.context) }
        }
    }
}
