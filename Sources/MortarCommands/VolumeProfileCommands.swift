import ArgumentParser
import Foundation
import MortarCore
import MortarManagementAPI

extension VolumeCommand {
    /// `mortar volume profile VOL start|info|stop`, as GlusterFS's.
    struct Profile: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Count every brick's requests per operation: calls, latency, bytes.",
            usage: "mortar volume profile VOLUME start|info|stop [--json]",
            discussion: """
                start sets the volume option diagnostics.profile on and waits until every running brick counts \
                (bricks follow options within a second or two); stop sets it off and waits until every brick has \
                dropped its counts. \
                info shows, per brick and operation, calls, errors, and average, minimum, maximum and 99th \
                percentile latency, and bytes read and written: since start, and since the last info (each info \
                begins a new interval). While profiling, bricks also rank their hottest files (volume top).
                """)
        @OptionGroup var options: ManagerOptions
        @Argument(help: "The volume.") var name: String
        @Argument(help: "start, info or stop.") var action: String
        @Flag(help: "Print JSON (info).") var json = false

        func validate() throws {
            guard ["start", "info", "stop"].contains(action) else {
                throw ValidationError("the profile action is start, info or stop, not '\(action)'")
            }
        }

        func run() async throws {
            try await reportingFailure {
                let client = try options.client()
                let profiling = try VolumeOptions(try await client.volumeOptions(name: name).values).profile
                switch action {
                case "start":
                    guard !profiling else {
                        throw FileSystemError(.exists, "profile on volume \(name) is already started")
                    }
                    _ = try await client.setVolumeOption(volume: name, name: "diagnostics.profile", value: "on")
                    try await waitUntilBricks(client, profile: true)
                    print("Starting volume profile on \(name) has been successful")
                case "stop":
                    guard profiling else { throw FileSystemError(.invalidArgument, "profile on volume \(name) is not started") }
                    _ = try await client.setVolumeOption(volume: name, name: "diagnostics.profile", value: "off")
                    // Until every brick has stopped (and dropped its counts): a start right after is then seen
                    // by every brick as a new start, from zero.
                    try await waitUntilBricks(client, profile: false)
                    print("Stopping volume profile on \(name) has been successful")
                default:
                    let profile = try await client.volumeProfile(name: name)
                    let answered = profile.bricks.compactMap(\.value)
                    if !answered.isEmpty, answered.allSatisfy({ !$0.profiling }) {
                        throw FileSystemError(
                            .invalidArgument, "profile on volume \(name) is not started (start it with mortar volume profile \(name) start)")
                    }
                    if json { return try printJSON(profile) }
                    print(ProfileFormatting.profile(profile), terminator: "")
                }
            }
        }

        /// Until every brick that answers says it profiles (or, with `profile` false, that it does not), within
        /// `Limits.profileStartWaitMilliseconds`. Asking begins a new interval, harmless here: profiling has just
        /// begun or ended.
        private func waitUntilBricks(_ client: ManagementClient, profile: Bool) async throws {
            let deadline = ContinuousClock.now + .milliseconds(Limits.profileStartWaitMilliseconds)
            while true {
                let answers = try await client.volumeProfile(name: name)
                let waiting = answers.bricks.filter { $0.value.map { $0.profiling != profile } ?? false }
                if waiting.isEmpty { return }
                guard ContinuousClock.now < deadline else {
                    throw FileSystemError(
                        .timedOut,
                        "profiling is \(profile ? "on" : "off") for \(name), but bricks \(waiting.map(\.brick).joined(separator: ", ")) did not follow within \(Limits.profileStartWaitMilliseconds / 1000) s")
                }
                try await Task.sleep(for: .milliseconds(Limits.profileStartPollMilliseconds))
            }
        }
    }

    /// `mortar volume top VOL open|read|write|opendir [--count N]`, as GlusterFS's.
    struct Top: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show each brick's hottest files while the volume is profiled.",
            usage: "mortar volume top VOLUME open|read|write|opendir [--count N] [--json]",
            discussion: """
                open and opendir rank files by how often they were opened (or listed from the start), read and \
                write by bytes. Bricks count while the volume is profiled (mortar volume profile VOLUME start). \
                A file shows with its path when the brick saw it looked up or created while profiling, and by \
                its FileID otherwise.
                """)
        @OptionGroup var options: ManagerOptions
        @Argument(help: "The volume.") var name: String
        @Argument(help: "open, read, write or opendir.") var kind: String
        @Option(help: "Files per brick (1 to 100).") var count = Limits.profileTopCountDefault
        @Flag(help: "Print JSON.") var json = false

        func validate() throws {
            guard TopKind(name: kind) != nil else {
                throw ValidationError("the top kind is open, read, write or opendir, not '\(kind)'")
            }
            guard (1...Limits.profileTopCountMax).contains(count) else {
                throw ValidationError("--count is 1 to \(Limits.profileTopCountMax), not \(count)")
            }
        }

        func run() async throws {
            try await reportingFailure {
                guard let kind = TopKind(name: kind) else { return }
                let top = try await options.client().volumeTop(name: name, kind: kind, count: count)
                let answered = top.bricks.compactMap(\.value)
                if !answered.isEmpty, answered.allSatisfy({ !$0.profiling }) {
                    throw FileSystemError(
                        .invalidArgument,
                        "volume \(name) is not profiled, so its bricks count no files (start with mortar volume profile \(name) start)")
                }
                if json { return try printJSON(top) }
                print(ProfileFormatting.top(top), terminator: "")
            }
        }
    }
}

/// The text forms of `volume profile VOL info`, `volume top` and `volume status VOL clients`.
enum ProfileFormatting {
    static func profile(_ profile: VolumeProfile) -> String {
        profile.bricks.map { answer in
            var text = "Brick: \(answer.brick)\n" + String(repeating: "-", count: answer.brick.count + 7) + "\n"
            guard let value = answer.value else { return text + "not answering: \(answer.error ?? "unknown")\n" }
            guard value.profiling else { return text + "not profiling\n" }
            text += interval("Cumulative Stats", value.cumulative)
            text += "\n" + interval("Interval Stats (since the last info)", value.interval)
            return text
        }.joined(separator: "\n")
    }

    private static func interval(_ title: String, _ interval: ProfileInterval) -> String {
        var text = "\(title):\n"
        let total = interval.operations.reduce(0 as Double) { $0 + Double($1.totalNanoseconds) }
        let header = ["%-latency", "Avg-latency", "Min-Latency", "Max-Latency", "p99-Latency", "No. of calls", "Errors", "Fop"]
        let rows = interval.operations.sorted { $0.totalNanoseconds > $1.totalNanoseconds }.map { op in
            [
                total > 0 ? Format.oneDecimal(Double(op.totalNanoseconds) * 100 / total) : "0.0",
                micro(op.averageNanoseconds), micro(op.minNanoseconds), micro(op.maxNanoseconds),
                micro(op.p99Nanoseconds), "\(op.calls)", "\(op.errors)", op.operation,
            ]
        }
        if !rows.isEmpty { text += VolumeFormatting.table([header] + rows) }
        text += "    Duration: \(interval.nanoseconds / 1_000_000_000) seconds\n"
        text += "   Data Read: \(interval.bytesRead) bytes\n"
        text += "Data Written: \(interval.bytesWritten) bytes\n"
        return text
    }

    /// Microseconds with two decimals and the unit, as GlusterFS prints latencies (any value: it came over the wire).
    private static func micro(_ nanoseconds: UInt64) -> String {
        let hundredths = nanoseconds / 10 + (nanoseconds % 10 >= 5 ? 1 : 0)
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction) us"
    }

    static func top(_ top: VolumeTop) -> String {
        top.bricks.map { answer in
            var text = "Brick: \(answer.brick)\n"
            guard let value = answer.value else { return text + "not answering: \(answer.error ?? "unknown")\n" }
            guard value.profiling else { return text + "not profiling\n" }
            let byBytes = top.kind == .read || top.kind == .write
            let header = byBytes ? ["Bytes", "Calls", "Filename"] : ["Count", "Filename"]
            let rows = value.entries.map { entry in
                let file = entry.path ?? "<gfid:\(entry.id)>"
                return byBytes ? ["\(entry.bytes)", "\(entry.count)", file] : ["\(entry.count)", file]
            }
            text += value.entries.isEmpty ? "no files counted\n" : VolumeFormatting.table([header] + rows)
            return text
        }.joined(separator: "\n")
    }

    static func clients(_ clients: VolumeClients) -> String {
        "Client connections for volume \(clients.volume)\n" + clients.bricks.map { answer in
            var text = "Brick : \(answer.brick)\n"
            guard let value = answer.value else { return text + "not answering: \(answer.error ?? "unknown")\n" }
            text += "Clients connected : \(value.total)\n"
            let header = ["Hostname", "Name", "Certificate", "Open files", "Requests", "BytesRead", "BytesWritten", "Connected"]
            let rows = value.clients.map { client in
                [
                    client.address, client.name, client.certificate ?? "-", "\(client.openFiles)", "\(client.requests)",
                    "\(client.bytesRead)", "\(client.bytesWritten)", "\(client.connectedSeconds) s",
                ]
            }
            if !rows.isEmpty { text += VolumeFormatting.table([header] + rows) }
            if value.clients.count < value.total { text += "(the \(value.clients.count) busiest of \(value.total) shown)\n" }
            return text
        }.joined(separator: "----------------------------------------------\n")
    }
}
