import Glibc
import Logging
import MortarCore

/// Where a client instance logs (`glfs_set_logging`): a file opened for appending, or standard error for "-".
final class LogDestination: Sendable {
    let level: Logger.Level?
    private let descriptor: Int32
    private let ownsDescriptor: Bool
    private let writeLock = ForkSafeMutex(())

    /// Logs warnings and errors to standard error until the application chooses.
    static let standard = LogDestination(descriptor: STDERR_FILENO, owns: false, level: .warning)

    /// Whether this destination writes to the process's standard error.
    var isStandardError: Bool { descriptor == STDERR_FILENO }

    private init(descriptor: Int32, owns: Bool, level: Logger.Level?) {
        self.descriptor = descriptor
        self.ownsDescriptor = owns
        self.level = level
    }

    deinit {
        if ownsDescriptor { Glibc.close(descriptor) }
    }

    /// Opens `path` ("-" is standard error). `glusterLevel` is GlusterFS's scale: 0 none … 7 info … 9 trace.
    static func open(path: String, glusterLevel: Int32) throws -> LogDestination {
        let level = Self.level(fromGlusterLevel: glusterLevel)
        if path == "-" { return LogDestination(descriptor: STDERR_FILENO, owns: false, level: level) }
        let descriptor = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw FileSystemError(FileSystemError.Code(rawValue: errno), "cannot open log file '\(path)'")
        }
        return LogDestination(descriptor: descriptor, owns: true, level: level)
    }

    /// Log files go where GlusterFS users look for them when the application names none.
    static let defaultPath = "/var/log/mortar/gfapi.log"

    static func level(fromGlusterLevel level: Int32) -> Logger.Level? {
        switch level {
        case ...0: nil
        case 1...3: .critical
        case 4: .error
        case 5: .warning
        case 6: .notice
        case 7: .info
        case 8: .debug
        default: .trace
        }
    }

    static func glusterLevel(of level: Logger.Level?) -> Int32 {
        switch level {
        case nil: 0
        case .critical: 3
        case .error: 4
        case .warning: 5
        case .notice: 6
        case .info: 7
        case .debug: 8
        case .trace: 9
        }
    }

    func logger(label: String) -> Logger {
        var logger = Logger(label: label) { label in LogDestinationHandler(label: label, destination: self) }
        logger.logLevel = level ?? .critical
        return logger
    }

    func write(_ line: String) {
        guard level != nil else { return }
        writeLock.withLock { _ in
            var line = line
            line.withUTF8 { bytes in
                var remaining = UnsafeRawBufferPointer(bytes)
                while !remaining.isEmpty {
                    let written = Glibc.write(descriptor, remaining.baseAddress, remaining.count)
                    if written <= 0 { if written < 0 && errno == EINTR { continue } else { return } }
                    remaining = UnsafeRawBufferPointer(rebasing: remaining[written...])
                }
            }
        }
    }
}

/// A swift-log handler that writes one line per message to a ``LogDestination``.
struct LogDestinationHandler: LogHandler {
    let label: String
    let destination: LogDestination
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
        let details = merged.isEmpty ? "" : " " + merged.sorted { $0.key < $1.key }.map { "\($0)=\($1)" }
            .joined(separator: " ")
        destination.write("\(time.tv_sec).\(time.tv_nsec / 1_000_000) \(event.level) \(label) [\(getpid())]: "
                          + "\(event.message)\(details)\n")
    }
}
