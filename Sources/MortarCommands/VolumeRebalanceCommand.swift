import ArgumentParser
import Foundation
import Glibc
import MortarCore
import MortarManagementAPI
import MortarVolumeSpec

extension VolumeCommand {
    /// `mortar volume rebalance NAME start [fix-layout] | stop | status [--watch]`, in GlusterFS's style.
    struct Rebalance: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Move files onto the bricks a volume's newest layout places them on.",
            usage: "mortar volume rebalance NAME start [fix-layout] | stop | status [--watch]",
            discussion: """
                After add-brick, new files go to the new bricks at once; a rebalance moves the files stored before. \
                It runs in the daemon that holds the manager role, moving cluster.rebal-throttle files at once \
                (lazy 1 with pauses, normal 2, aggressive 4), and records its progress in the catalog: stop, a \
                daemon restart or a manager failover resumes it where it was. A file open somewhere, or changed \
                while it was copied, is skipped and moves on a later start. status shows files and bytes moved, \
                files scanned, skipped and failed, the run time, an estimate of the time left, and the state: \
                in progress, stopped, failed or completed. fix-layout has nothing to do (add-brick fixes layouts \
                at once) and says so.
                """)
        @OptionGroup var options: ManagerOptions
        @Argument(help: "The volume's name.") var name: String
        @Argument(help: "start [fix-layout], stop or status.") var action: String
        @Argument(help: "fix-layout, after start.") var mode: String?
        @Flag(help: "With status: show a progress bar until the rebalance is no longer in progress.") var watch = false

        func run() async throws {
            try await reportingFailure {
                let client = try options.client()
                switch (action, mode) {
                case ("start", nil):
                    let status = try await client.startRebalance(volume: name)
                    print("volume rebalance: \(name): success: rebalance started (run resumes after \(status.cursor))")
                case ("start", "fix-layout"?):
                    print("volume rebalance: \(name): success: layouts need no fixing: add-brick placed new files on the new bricks at once")
                case ("stop", nil):
                    let status = try await client.stopRebalance(volume: name)
                    print(Self.table(status))
                    print("volume rebalance: \(name): success: rebalance stopped; start resumes it")
                case ("status", nil):
                    var status = try await client.rebalanceStatus(volume: name)
                    if watch {
                        let bar = ProgressBar()
                        while !status.isFinished {
                            bar.show(status)
                            try await Task.sleep(for: .seconds(1))
                            status = try await client.rebalanceStatus(volume: name)
                        }
                        bar.end()
                    }
                    print(Self.table(status))
                    if watch, status.state != "completed" { throw ExitCode(1) }
                default:
                    throw FileSystemError.invalidArgument(
                        "rebalance takes start [fix-layout], stop or status, not '\(([action] + (mode.map { [$0] } ?? [])).joined(separator: " "))'")
                }
            }
        }

        /// GlusterFS's status table, one row (the daemon running it), then the estimate.
        static func table(_ status: RebalanceStatusReply) -> String {
            let counters = status.counters
            let columns = ["Node", "Rebalanced-files", "size", "scanned", "failures", "skipped", "status", "run time in h:m:s"]
            let row = [
                status.host, "\(counters.movedFiles)", Format.bytes(counters.movedBytes), "\(counters.scannedFiles)",
                "\(counters.failedFiles)", "\(counters.skippedFiles)", status.state, Self.clock(counters.elapsedSeconds),
            ]
            let widths = zip(columns, row).map { max($0.count, $1.count) }
            func line(_ cells: [String]) -> String {
                let padded = zip(cells, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }
                return (padded.dropLast() + [cells[cells.count - 1]]).joined(separator: "  ")
            }
            var lines = [line(columns), line(widths.map { String(repeating: "-", count: $0) }), line(row)]
            if let left = status.secondsLeft {
                lines.append("Estimated time left for rebalance to complete: \(Self.clock(left))")
            }
            if let failure = status.failure { lines.append("Failure: \(failure)") }
            lines.append("volume rebalance: \(status.volume): success")
            return lines.joined(separator: "\n")
        }

        static func clock(_ seconds: Double) -> String {
            let total = Int(seconds.rounded())
            let (hours, minutes, secs) = (total / 3600, total / 60 % 60, total % 60)
            return "\(hours):" + [minutes, secs].map { $0 < 10 ? "0\($0)" : "\($0)" }.joined(separator: ":")
        }
    }
}

/// A rebalance's progress on standard error while `status --watch` waits: a bar on a terminal, otherwise a line
/// every ten seconds.
final class ProgressBar {
    private let isTerminal = isatty(2) != 0
    private var lastLine = ContinuousClock.now - .seconds(60)

    func show(_ status: RebalanceStatusReply) {
        let counters = status.counters
        let scanned = counters.scannedFiles + counters.scannedDirectories
        let fraction = counters.estimatedEntries > 0 ? min(1, Double(scanned) / Double(counters.estimatedEntries)) : 0
        let width = 30
        let filled = Int(fraction * Double(width))
        let left = status.secondsLeft.map { ", about \(VolumeCommand.Rebalance.clock($0)) left" } ?? ""
        let text = "[\(String(repeating: "#", count: filled))\(String(repeating: ".", count: width - filled))] "
            + "\(Int(fraction * 100))%  \(counters.movedFiles) moved (\(Format.bytes(counters.movedBytes))), "
            + "\(scanned) scanned\(left)"
        if isTerminal {
            emit("\r\(text)\u{1B}[K")
        } else if ContinuousClock.now - lastLine >= .seconds(10) {
            lastLine = .now
            emit(text + "\n")
        }
    }

    func end() { if isTerminal { emit("\n") } }

    private func emit(_ text: String) {
        _ = text.withCString { write(2, $0, strlen($0)) }
    }
}
