import MortarCore
import Testing

@testable import MortarBrickServer

/// The brick's table of opens and fences, alone: a client whose connection dropped while it held a file open
/// reconnects and reopens it, so the file counts as open for a grace period after the drop.
@Suite("Migration fences table")
struct MigrationFencesTests {
    @Test func aDroppedConnectionsOpenFilesCountForTheGrace() async throws {
        let fences = MigrationFences(reopenGrace: .milliseconds(300))
        let file = FileID.random()
        let other = FileID.random()
        try fences.opened(file, by: 1)
        try fences.opened(other, by: 1)
        fences.closed(other, by: 1)  // released before the drop: not held when the connection went
        fences.connectionClosed(1)
        #expect(try fences.fence(file, by: 9) == 1, "the dropped connection's file did not count as open")
        #expect(try fences.fence(other, by: 9) == 0)
        fences.unfence(file, by: 9)
        // Reopened on the new connection within the grace: counted as that open (and the grace's) meanwhile.
        try await Task.sleep(for: .milliseconds(400))
        #expect(try fences.fence(file, by: 9) == 0, "the grace never ended")
        fences.unfence(file, by: 9)
        fences.unfence(other, by: 9)
        #expect(!fences.isActive && fences.openFileCount == 0)
    }
}
