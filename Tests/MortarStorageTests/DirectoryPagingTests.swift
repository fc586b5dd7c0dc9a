import MortarCore
import MortarPosixStorage
import NIOCore
import Testing

@Suite("Directory listings")
struct DirectoryPagingTests {
    @Test func thousandEntriesInPagesOfAHundredAreEachSeenOnce() async throws {
        try await TestBrick.with { brick in
            let directory = try await brick.makeDirectory("many")
            var expected: Set<String> = []
            for number in 0..<1000 {
                let name = "entry-\(number)"
                expected.insert(name)
                let created = try await brick.createFile(name, in: directory.id)
                try await brick.storage.release(created.file, context: brick.context)
            }
            var seen: [String] = []
            var cookie: UInt64 = 0
            var pages = 0
            while true {
                let page = try await brick.storage.readDirectory(
                    directory.id, after: cookie, countMax: 100, context: brick.context)
                pages += 1
                #expect(page.entries.count <= 100)
                #expect(page.entries.allSatisfy { $0.attributes.type == .regular })
                seen += page.entries.map(\.name)
                guard let next = page.nextCookie else { break }
                cookie = next
                try #require(pages <= 20, "listing does not end")
            }
            #expect(seen.count == 1000)
            #expect(Set(seen) == expected)
            #expect(pages == 10)
            // Each page went on from the stream the previous one ended with: nothing was read twice.
            #expect(brick.storage.entriesSkippedToResumeListings == 0)
        }
    }

    /// A position whose stream was not kept (here: another call took it) is found again by reading past the
    /// entries before it, and gives the same page.
    @Test func aPositionWithoutItsStreamIsFoundByReadingPast() async throws {
        try await TestBrick.with { brick in
            let directory = try await brick.makeDirectory("some")
            for number in 0..<50 {
                let created = try await brick.createFile("entry-\(number)", in: directory.id)
                try await brick.storage.release(created.file, context: brick.context)
            }
            let first = try await brick.storage.readDirectory(directory.id, after: 0, countMax: 20, context: brick.context)
            let cookie = try #require(first.nextCookie)
            let kept = try await brick.storage.readDirectory(directory.id, after: cookie, countMax: 20, context: brick.context)
            #expect(brick.storage.entriesSkippedToResumeListings == 0)
            let again = try await brick.storage.readDirectory(directory.id, after: cookie, countMax: 20, context: brick.context)
            #expect(brick.storage.entriesSkippedToResumeListings == cookie)
            #expect(again.entries.map(\.name) == kept.entries.map(\.name))
            #expect(again.nextCookie == kept.nextCookie)
            #expect(Set(first.entries.map(\.name)).isDisjoint(with: kept.entries.map(\.name)))
        }
    }

    /// A cookie past what a brick will read through is refused at once, not answered by scanning the directory.
    @Test func aCookieBeyondTheBoundIsRefusedWithoutAScan() async throws {
        try await TestBrick.with { brick in
            for cookie in [UInt64.max, Limits.directorySkipEntriesMax + 1] {
                await expectError(.invalidArgument) {
                    try await brick.storage.readDirectory(.root, after: cookie, countMax: 10, context: brick.context)
                }
            }
            #expect(brick.storage.entriesSkippedToResumeListings == 0)
        }
    }

    @Test func listingAFileOrAnUnknownDirectoryFails() async throws {
        try await TestBrick.with { brick in
            let file = try await brick.createFile("file")
            await expectError(.notDirectory) {
                try await brick.storage.readDirectory(file.attributes.id, after: 0, countMax: 10, context: brick.context)
            }
            await expectError(.notFound) {
                try await brick.storage.readDirectory(.random(), after: 0, countMax: 10, context: brick.context)
            }
            await expectError(.invalidArgument) {
                try await brick.storage.readDirectory(.root, after: 0, countMax: 0, context: brick.context)
            }
        }
    }
}
