#if canImport(Glibc)
import Glibc
#endif
import Logging
import MortarCore
import MortarManagementAPI
import MortarVolumeSpec

/// Runs this host's brick processes and keeps them running: a brick that exits while it is wanted is started
/// again after an exponential backoff. ``run()`` owns every supervising task, so they all end with it.
actor BrickSupervisor {
    struct Key: Hashable, Sendable {
        var volume: String
        var index: Int
    }

    private struct Entry {
        var brick: AgentBrick
        /// Distinguishes this incarnation from a later start of the same brick after a stop.
        var generation: Int
        var process: ChildProcess?
        let stopRequested = Latch<Void>()
    }

    private let brickCommand: [String]
    /// `--tls-dir DIR` (the daemon's own host certificate) or `--insecure`, as the daemon runs.
    private let tlsArguments: [String]
    /// The address bricks listen on: the daemon's own, so a daemon kept to one interface (`mortar up`: loopback)
    /// does not leave its bricks open on every other.
    private let listenHost: String
    private let logDirectory: String
    private let logger: Logger
    private var entries: [Key: Entry] = [:]
    private var nextGeneration = 0
    /// Start requests for ``run()``. Unbounded in type, bounded in practice: one element per brick start, and
    /// starts come from the manager one command at a time.
    private let requests: AsyncStream<(Key, Int)>
    private let requestSink: AsyncStream<(Key, Int)>.Continuation

    init(brickCommand: [String], listenHost: String, logDirectory: String, tlsDirectory: String?, logger: Logger) {
        self.brickCommand = brickCommand
        self.tlsArguments = tlsDirectory.map { ["--tls-dir", $0] } ?? ["--insecure"]
        self.listenHost = listenHost
        self.logDirectory = logDirectory
        self.logger = logger
        (requests, requestSink) = AsyncStream.makeStream(of: (Key, Int).self)
    }

    /// Supervises bricks until ``shutdown()``; returns when every supervising task has ended.
    func run() async {
        await withDiscardingTaskGroup { group in
            for await (key, generation) in requests {
                group.addTask { await self.supervise(key, generation: generation) }
            }
        }
    }

    /// Starts the brick unless it already runs with the same path and port.
    func start(_ brick: AgentBrick) async {
        let key = Key(volume: brick.volume, index: brick.index)
        if let entry = entries[key] {
            if entry.brick == brick { return }
            await stop(key)
        }
        nextGeneration += 1
        entries[key] = Entry(brick: brick, generation: nextGeneration)
        requestSink.yield((key, nextGeneration))
    }

    /// Stops the brick if it runs; returns once its process has exited.
    func stop(_ key: Key) async {
        guard let entry = entries.removeValue(forKey: key) else { return }
        entry.stopRequested.fire(())
        if let process = entry.process {
            logger.info("stopping brick", metadata: ["volume": "\(key.volume)", "index": "\(key.index)",
                                                    "pid": "\(process.pid)"])
            await process.terminate()
        }
    }

    /// Stops every brick and ends ``run()``. The host's assignments are kept, so a restarted daemon runs the
    /// same bricks again.
    func shutdown() async {
        // All at once: each brick may take the whole stop grace period, and they do not depend on each other.
        await withDiscardingTaskGroup { group in
            for key in entries.keys { group.addTask { await self.stop(key) } }
        }
        requestSink.finish()
    }

    /// The process of a brick, if one runs now.
    func pid(of key: Key) -> Int32? {
        guard let process = entries[key]?.process, !process.hasExited else { return nil }
        return process.pid
    }

    private func isCurrent(_ key: Key, _ generation: Int) -> Bool {
        entries[key]?.generation == generation
    }

    private func supervise(_ key: Key, generation: Int) async {
        var backoff = Limits.brickRestartBackoffMinMilliseconds
        while let entry = entries[key], entry.generation == generation {
            let began = ContinuousClock.now
            let status = await runOnce(entry, key: key, generation: generation)
            guard isCurrent(key, generation), !Task.isCancelled else { return }
            if ContinuousClock.now - began > .milliseconds(Limits.brickRestartBackoffMaxMilliseconds) {
                backoff = Limits.brickRestartBackoffMinMilliseconds
            }
            logger.warning("brick exited; restarting after backoff", metadata: [
                "volume": "\(key.volume)", "index": "\(key.index)", "status": "\(status.map { "\($0)" } ?? "not started")",
                "backoffMilliseconds": "\(backoff)",
            ])
            if await entry.stopRequested.wait(milliseconds: backoff) != nil { return }
            backoff = min(backoff * 2, Limits.brickRestartBackoffMaxMilliseconds)
        }
    }

    /// Runs the brick until it exits; the exit status, or nil when it could not be started or is no longer wanted.
    private func runOnce(_ entry: Entry, key: Key, generation: Int) async -> Int32? {
        let logPath = "\(logDirectory)/\(key.volume)-\(key.index).log"
        let arguments = brickCommand + [
            "--export", entry.brick.path, "--port", "\(entry.brick.port)", "--listen-host", listenHost,
            "--volume", key.volume,
            "--brick-index", "\(key.index)", "--exit-with-parent",
        ] + tlsArguments + [
            "--unix-socket", ProtocolClientOptions.localSocketPath(port: entry.brick.port, brickPath: entry.brick.path),
        ] + (entry.brick.manager.map { ["--manager", $0] } ?? [])
            + entry.brick.options.sorted { $0.key < $1.key }.flatMap { ["--volume-option", "\($0.key)=\($0.value)"] }
        let process: ChildProcess
        do {
            process = try await ChildProcess.spawn(arguments: arguments, logPath: logPath)
        } catch {
            logger.error("cannot start brick", metadata: ["volume": "\(key.volume)", "index": "\(key.index)",
                                                          "reason": "\(error)"])
            return nil
        }
        guard isCurrent(key, generation) else {
            kill(process.pid, SIGKILL)
            _ = await process.monitor()
            return nil
        }
        entries[key]?.process = process
        logger.info("brick started", metadata: ["volume": "\(key.volume)", "index": "\(key.index)",
                                                "pid": "\(process.pid)", "port": "\(entry.brick.port)"])
        return await process.monitor()
    }
}
