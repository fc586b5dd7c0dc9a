import ArgumentParser
import Foundation
import Logging
import Mortar
import MortarCore
import MortarDaemon
import MortarFUSE
import MortarMeter
import MortarTransport
import NIOPosix

/// `mortar mount [-f] [-o OPTIONS] SOURCE MOUNTPOINT`: shows a volume as a directory through FUSE.
///
/// Without `-f` the command starts the mount in the background and returns once it is ready (or with the reason it
/// failed): it runs itself again with `-f`, reads "ready" from that process, and leaves it serving. A background
/// mount is a fresh process rather than a fork because a process with running threads (the event loops, the
/// concurrency pool) cannot be forked safely.
struct MountCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mount", abstract: "Mount a volume with FUSE.",
        discussion: """
            SOURCE is mortar://HOST[:PORT]/VOLUME or HOST[:PORT]:/VOLUME.
            Options (-o, comma-separated; see README.md):
              attr_timeout=S, entry_timeout=S   kernel caching of attributes, names
              negative_timeout=S                caching of absent names (default 0)
              writeback_cache                   gather writes in the page cache
              direct_io                         bypass the page cache for all files
              keep_cache                        keep cached pages across opens
              readahead_kb=N                    kernel read-ahead (default 1024)
              threads=N, noclone_fd             libfuse reader threads (default 4)
              noallow_other                     only the mounting user may enter
              pool_requests                     serve on the cooperative pool
              ro, nosuid, nodev, noexec, ...    passed to the kernel
              log=PATH, log_level=LEVEL         log of a background mount
              backup_servers=HOST2:HOST3        other daemons to ask when the first is gone
              metrics=HOST:PORT                 serve the client's metrics at /metrics
            fstab's defaults, _netdev, nofail, noauto, x-... are ignored.
            """)

    @Option(name: .customShort("o"), help: "Mount options, comma-separated (see below).")
    var options: [String] = []

    @Flag(name: .customShort("f"), help: "Stay in the foreground until unmounted or stopped (SIGTERM, SIGINT).")
    var foreground = false

    @Flag(help: ArgumentHelp("Report readiness on stdout, then detach (the background mount).", visibility: .hidden))
    var notifyReady = false

    @Argument(help: "The volume: mortar://HOST[:PORT]/VOLUME or HOST[:PORT]:/VOLUME.")
    var source: String

    @Argument(help: "An existing directory.")
    var mountPoint: String

    func run() async throws {
        try await reportingFailure {
            let volumeSource = try VolumeSource(parsing: source)
            let mountOptions = try MountOptions(parsing: options)
            let target = try MountTable.checkMountPoint(mountPoint)
            try MountTable.checkFUSEDevice()
            guard foreground || notifyReady else {
                // Rebuilt from what was parsed: called as mount.mortar, the process's own arguments are mount(8)'s.
                try BackgroundMount.start(arguments: ["mount"] + options.flatMap { ["-o", $0] } + [source, mountPoint])
                return
            }
            if notifyReady { _ = setsid() }
            let logger = MountLogging.bootstrap(options: mountOptions, background: notifyReady)
            let metrics = mountOptions.metricsHost.map { _ in ClientMetrics(volume: volumeSource.volume) }
            let volume: Volume
            // One event loop for the volume's connections and the mount's requests: a request then needs no thread
            // switch between being sent and being answered.
            let eventLoop = MultiThreadedEventLoopGroup.singleton.next()
            do {
                volume = try await Volume.connect(
                    volume: volumeSource.volume,
                    servers: [volumeSource.server]
                        + mountOptions.backupServers.map { ServerAddress(host: $0, port: volumeSource.server.port) },
                    tlsDirectory: mountOptions.tlsDirectory,
                    logger: logger, eventLoopGroup: eventLoop, metrics: metrics)
            } catch {
                let failure = FileSystemError.wrapping(error)
                throw FileSystemError(failure.code, "cannot mount \(volumeSource): \(failure.message)")
            }
            var exporter: MetricsExporter?
            if let metrics, let host = mountOptions.metricsHost, let port = mountOptions.metricsPort {
                do {
                    exporter = try await MetricsExporter.bind(host: host, port: port, logger: logger) { metrics.exposition() }
                } catch {
                    await volume.close()
                    let failure = FileSystemError.wrapping(error)
                    throw FileSystemError(failure.code, "cannot serve the mount's metrics: \(failure.message)")
                }
            }
            let serving = exporter
            // The volume's background work (write-behind's sender) runs beside the mount; closing the volume once
            // the mount ends lands what it acknowledged and ends that work.
            let outcome = try await withThrowingDiscardingTaskGroup { group in
                // On the volume's event loop, where its replies arrive: a send's completion needs no thread switch.
                group.addTask(executorPreference: EventLoopTaskExecutor(eventLoop)) { await volume.run() }
                if let serving { group.addTask { await serving.serve() } }
                let outcome = try await FUSEMount.serve(
                    volume, source: volumeSource.description, at: target, options: mountOptions, logger: logger,
                    eventLoop: mountOptions.eventLoopRequests ? eventLoop : nil
                ) {
                    logger.info("mounted", metadata: ["source": "\(volumeSource)", "mount_point": "\(target)"])
                    if notifyReady { BackgroundMount.reportReady(logFile: mountOptions.logFile) }
                }
                serving?.close()
                await volume.close()
                return outcome
            }
            logger.info("unmounted", metadata: ["mount_point": "\(target)", "signal": "\(outcome.signal ?? 0)"])
            if outcome.signal == nil, outcome.loopResult < 0 {
                throw FileSystemError(.init(rawValue: -outcome.loopResult), "the FUSE session of \(target) failed")
            }
        }
    }
}

/// Starting a mount in the background and the background process's side of it.
enum BackgroundMount {
    static let readyLine = "ready"

    /// Runs this binary again with the same arguments plus `--notify-ready`, and returns once it says it is ready;
    /// if it exits first, its reason (one line on stderr) is passed on as this command's.
    static func start(arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        process.arguments = arguments + ["--notify-ready"]
        let output = Pipe()
        let error = Pipe()
        process.standardOutput = output
        process.standardError = error
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let said = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        if said.split(separator: "\n").contains(Substring(readyLine)) { return }
        // The background process failed before it was ready: its one-line reason is this command's.
        let reason = error.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        FileHandle.standardError.write(
            reason.isEmpty ? Data("mortar: the background mount exited with status \(process.terminationStatus)\n".utf8) : reason)
        throw ExitCode.failure
    }

    /// Tells the waiting parent the mount is ready, then lets go of its pipes: standard output and error go to the
    /// log file (or nowhere), standard input to /dev/null.
    static func reportReady(logFile: String?) {
        let line = readyLine + "\n"
        _ = line.withCString { write(1, $0, strlen($0)) }
        let null = open("/dev/null", O_RDWR)
        let log = logFile.map { open($0, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640) } ?? -1
        let sink = log >= 0 ? log : null
        dup2(null, 0)
        dup2(sink, 1)
        dup2(sink, 2)
        if log >= 0 { close(log) }
        close(null)
    }
}

/// The mount process logs to stderr (which a background mount points at its log file once ready).
enum MountLogging {
    static func bootstrap(options: MountOptions, background: Bool) -> Logger {
        LogLines.bootstrap()
        var logger = Logger(label: "mortar.mount")
        let level = options.logLevel.flatMap(Logger.Level.init(rawValue:))
            ?? ProcessEnvironment.value("MORTAR_LOG_LEVEL").flatMap(Logger.Level.init(rawValue:))
        // Until it is ready, a background mount's stderr is the pipe its parent reads only on failure: keep it short.
        logger.logLevel = level ?? (background ? .warning : .info)
        return logger
    }
}
