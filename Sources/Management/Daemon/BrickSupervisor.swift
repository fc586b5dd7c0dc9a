#if canImport(Glibc)
import Glibc
#endif
import Logging
import MortarCore
import MortarManagementAPI
import MortarVolumeSpec
import NIOCore

/// Runs this host's brick processes and keeps them running: a brick that exits while it is wanted is started
/// again after an exponential backoff. ``run()`` owns every supervising task, so they all end with it.
///
/// Bricks outlive the daemon: ``release()`` ends supervision and leaves them serving, and a daemon that starts
/// adopts a brick it finds running with exactly the arguments it would start it with (found in `/proc`, checked
/// through a pidfd, and answering on its port) instead of starting another. A brick of the same volume, number and
/// directory running with other arguments (an option changed, or a daemon upgrade that passes new ones) is
/// stopped and started anew.
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
    /// Where this host's bricks answer, for the check that an adopted brick serves.
    private let probeHost: String
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger
    private var entries: [Key: Entry] = [:]
    private var nextGeneration = 0
    /// Start requests for ``run()``. Unbounded in type, bounded in practice: one element per brick start, and
    /// starts come from the manager one command at a time.
    private let requests: AsyncStream<(Key, Int)>
    private let requestSink: AsyncStream<(Key, Int)>.Continuation

    /// `--metrics` when the daemon serves metrics: bricks then count what they serve.
    private let metricsArguments: [String]

    init(
        brickCommand: [String], listenHost: String, probeHost: String, logDirectory: String, tlsDirectory: String?,
        countsMetrics: Bool = false, eventLoopGroup: any EventLoopGroup, logger: Logger
    ) {
        self.metricsArguments = countsMetrics ? ["--metrics"] : []
        self.brickCommand = brickCommand
        self.tlsArguments = tlsDirectory.map { ["--tls-dir", $0] } ?? ["--insecure"]
        self.listenHost = listenHost
        self.probeHost = probeHost
        self.eventLoopGroup = eventLoopGroup
        self.logDirectory = logDirectory
        self.logger = logger
        (requests, requestSink) = AsyncStream.makeStream(of: (Key, Int).self)
    }

    /// Supervises bricks until ``shutdown()`` or ``release()``; returns when every supervising task has ended.
    func run() async {
        await withDiscardingTaskGroup { group in
            for await (key, generation) in requests {
                group.addTask { await self.supervise(key, generation: generation) }
            }
            // After shutdown every task has ended already; after release the bricks run on, unwatched.
            group.cancelAll()
        }
    }

    /// Starts the brick unless it already runs with the same path, port, manager and options. Other alternate
    /// managers alone do not restart a running brick: they are kept for its next start.
    func start(_ brick: AgentBrick) async {
        let key = Key(volume: brick.volume, index: brick.index)
        if let entry = entries[key] {
            if entry.brick.identity == brick.identity {
                entries[key]?.brick = brick
                return
            }
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

    /// Ends ``run()`` and leaves every brick running: the next daemon on this host adopts them.
    func release() {
        requestSink.finish()
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
    /// The bricks this daemon runs, each with whether its process is alive now (for metrics).
    func bricks() -> [(brick: AgentBrick, isRunning: Bool)] {
        entries.values.map { entry in (entry.brick, entry.process.map { !$0.hasExited } ?? false) }
            .sorted { ($0.brick.volume, $0.brick.index) < ($1.brick.volume, $1.brick.index) }
    }

    /// The address this host's bricks answer on (the daemon's own, or loopback for a wildcard).
    var brickHost: String { probeHost }

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
            let exit = await runOnce(entry, key: key, generation: generation)
            guard isCurrent(key, generation), !Task.isCancelled else { return }
            if ContinuousClock.now - began > .milliseconds(Limits.brickRestartBackoffMaxMilliseconds) {
                backoff = Limits.brickRestartBackoffMinMilliseconds
            }
            logger.warning("brick exited; restarting after backoff", metadata: [
                "volume": "\(key.volume)", "index": "\(key.index)", "status": "\(exit.map { "\($0)" } ?? "not started")",
                "backoffMilliseconds": "\(backoff)",
            ])
            if await entry.stopRequested.wait(milliseconds: backoff) != nil { return }
            backoff = min(backoff * 2, Limits.brickRestartBackoffMaxMilliseconds)
        }
    }

    /// The brick's full command line; a running brick is adopted only when its own is this, alternate managers
    /// aside (see ``adoptionIdentity(_:)``).
    private func arguments(_ brick: AgentBrick, key: Key) -> [String] {
        brickCommand + [
            "--export", brick.path, "--port", "\(brick.port)", "--listen-host", listenHost,
            "--volume", key.volume, "--brick-index", "\(key.index)",
        ] + tlsArguments + metricsArguments + [
            "--unix-socket", ProtocolClientOptions.localSocketPath(port: brick.port, brickPath: brick.path),
        ] + (brick.manager.map { ["--manager", $0] } ?? [])
            + brick.alternateManagers.flatMap { ["--alternate-manager", $0] }
            + brick.options.sorted { $0.key < $1.key }.flatMap { ["--volume-option", "\($0.key)=\($0.value)"] }
    }

    /// Runs the brick until it exits — adopting one already running, or starting it — and returns how it ended,
    /// or nil when it could not be started or is no longer wanted.
    private func runOnce(_ entry: Entry, key: Key, generation: Int) async -> ChildProcess.Exit? {
        let arguments = arguments(entry.brick, key: key)
        let process: ChildProcess
        if let adopted = await adoptRunning(arguments, key: key, brick: entry.brick) {
            process = adopted
        } else {
            do {
                process = try await ChildProcess.spawn(
                    arguments: arguments, logPath: "\(logDirectory)/\(key.volume)-\(key.index).log")
            } catch {
                logger.error("cannot start brick", metadata: ["volume": "\(key.volume)", "index": "\(key.index)",
                                                              "reason": "\(error)"])
                return nil
            }
            logger.info("brick started", metadata: ["volume": "\(key.volume)", "index": "\(key.index)",
                                                    "pid": "\(process.pid)", "port": "\(entry.brick.port)"])
        }
        guard isCurrent(key, generation) else {
            // Stopped (or replaced) while it was being started: the stop found no process to end, so end it here
            // (unless the daemon is leaving: then bricks stay).
            if !Task.isCancelled { await process.terminateWatching() }
            return nil
        }
        entries[key]?.process = process
        return await process.monitor()
    }

    /// A brick's command line without its alternate managers: a brick started when the cluster had other daemons
    /// is still the brick wanted (it asks its own daemon first, and any it knows when that one is gone).
    static func adoptionIdentity(_ arguments: [String]) -> [String] {
        var kept: [String] = []
        var index = arguments.startIndex
        while index < arguments.endIndex {
            if arguments[index] == "--alternate-manager" {
                index += 2
                continue
            }
            kept.append(arguments[index])
            index += 1
        }
        return kept
    }

    /// A process running this brick that an earlier daemon left, adopted, when it runs with exactly `arguments`
    /// and answers on its port. Processes of the same brick that run with other arguments, or do not answer
    /// within ``Limits/brickAdoptionProbeMilliseconds``, are stopped: a new one is started in their place.
    private func adoptRunning(_ arguments: [String], key: Key, brick: AgentBrick) async -> ChildProcess? {
        // Here rather than on the thread pool: /proc is served from the kernel's memory, never from a disk.
        let running = ProcessTable.processes {
            ProcessTable.isBrick($0, volume: key.volume, index: key.index, path: brick.path)
        }
        var adopted: ChildProcess?
        for found in running {
            guard let process = ChildProcess.adopt(pid: found.pid, arguments: found.arguments) else { continue }
            let metadata: Logger.Metadata = ["volume": "\(key.volume)", "index": "\(key.index)", "pid": "\(found.pid)"]
            let same = Self.adoptionIdentity(found.arguments) == Self.adoptionIdentity(arguments)
            let serving = adopted == nil && same ? await answers(brick.port) : false
            // The daemon is leaving: bricks stay as they are, for the next one.
            if Task.isCancelled { return nil }
            if serving {
                logger.info("brick adopted: it was running already", metadata: metadata)
                adopted = process
            } else {
                logger.notice(
                    "stopping a brick process that runs with other arguments or does not answer", metadata: metadata)
                await process.terminateWatching()
            }
        }
        return adopted
    }

    /// Whether something accepts connections on the brick's port within the adoption bound.
    private func answers(_ port: Int) async -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Limits.brickAdoptionProbeMilliseconds)
        while ContinuousClock.now < deadline {
            if await HostAgent.accepts(host: probeHost, port: port, group: eventLoopGroup) { return true }
            // Cancellation (the daemon stopping) ends the wait; the caller then leaves the brick as it is.
            do { try await Task.sleep(for: .milliseconds(100)) } catch { return false }
        }
        return false
    }
}
