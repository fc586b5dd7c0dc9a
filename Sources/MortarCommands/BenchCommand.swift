import ArgumentParser
import Foundation
import Mortar
import MortarCore
import NIOCore
import NIOPosix

/// `mortar bench`: the same workloads through the client library against a volume and with plain POSIX calls
/// against a local directory (the baseline), in one run, reported as ratios.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure a volume through the client library against a local directory as the baseline.")

    @Option(help: "The volume to measure, mortar://HOST[:PORT]/VOLUME.") var volume: String
    @Option(help: "A local directory on the same disk as the brick, for the baseline.") var localDirectory: String
    @Option(name: .customLong("size-mib"), help: "Size of the sequential file in MiB.") var sizeMiB: Int = 1024
    @Option(help: "Seconds each random workload runs.") var seconds: Int = 20
    @Option(help: "Parallel 1 MiB requests in the sequential workloads (the library's pipelining window).")
    var sequentialWindow: Int = 8
    @Flag(help: "Print the results as JSON.") var json = false

    func validate() throws {
        guard sizeMiB > 0, seconds > 0, sequentialWindow > 0 else {
            throw ValidationError("--size-mib, --seconds and --sequential-window must be positive")
        }
    }

    func run() async throws {
        try await reportingFailure { try await execute() }
    }

    private func execute() async throws {
        let target = try MortarURL(parsing: volume)
        let threadPool = NIOThreadPool(numberOfThreads: 32)
        threadPool.start()
        var results: [BenchResult] = []
        try await target.withVolume { volume in
            let remote = VolumeTarget(volume: volume, path: target.path == "/" ? "/bench.dat" : target.path)
            let local = try LocalTarget(path: localDirectory + "/bench.dat", threadPool: threadPool)
            let plan = BenchPlan(
                size: UInt64(sizeMiB) << 20, duration: .seconds(seconds), sequentialWindow: sequentialWindow)
            for workload in plan.workloads {
                for (name, bench) in [("local", local as any BenchTarget), ("mortar", remote as any BenchTarget)] {
                    progress("\(workload.name) on \(name)…")
                    results.append(try await workload.run(on: bench, targetName: name, plan: plan))
                }
            }
            try await remote.cleanUp()
            try local.cleanUp()
        }
        try await threadPool.shutdownGracefully()
        if json {
            print(try BenchReport.json(results))
        } else {
            print(BenchReport.table(results))
        }
    }

    private func progress(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }
}
