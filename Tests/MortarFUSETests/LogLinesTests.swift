import Foundation
import Testing

@testable import MortarCommands

/// The daemon's, bricks' and mount's log lines carry milliseconds, since a failover is read off them.
@Suite("Log lines")
struct LogLinesTests {
    @Test func timestampsHaveMillisecondsAndTheZone() throws {
        let stamp = LogLines.timestamp()
        let pattern = try NSRegularExpression(pattern: #"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{4}$"#)
        let whole = NSRange(stamp.startIndex..., in: stamp)
        #expect(pattern.firstMatch(in: stamp, range: whole) != nil, "\(stamp)")
    }
}
