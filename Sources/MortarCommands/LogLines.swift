import CMortarLinux
import Glibc
import Logging

/// The log lines of Mortar's long-running processes (daemon, brick, mount): one line per message on stderr, in
/// swift-log's stream layout but with milliseconds, since a failover is a matter of seconds and the order of
/// events across hosts is what an operator reads a log for:
///
///     2026-12-06T05:20:35.412+0000 info mortar.daemon: volume=rep [MortarDaemon] replica set changed
///
/// Each line is one `write(2)`, so lines of concurrent tasks never interleave.
struct LogLines: LogHandler {
    let label: String
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?
    var logLevel: Logger.Level = .info

    /// Makes every logger of the process write lines in this format; `MORTAR_LOG_LEVEL` (trace … critical)
    /// overrides the level a process picks for itself.
    static func bootstrap() {
        LoggingSystem.bootstrap { label in LogLines(label: label) }
    }

    /// `level` unless `MORTAR_LOG_LEVEL` names another.
    static func level(default level: Logger.Level) -> Logger.Level {
        ProcessEnvironment.value("MORTAR_LOG_LEVEL").flatMap(Logger.Level.init(rawValue:)) ?? level
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let given = event.metadata { merged.merge(given) { _, new in new } }
        let details = merged.sorted { $0.key < $1.key }.map { " \($0.key)=\($0.value)" }.joined()
        let line = "\(Self.timestamp()) \(event.level) \(label):\(details) [\(event.source)] \(event.message)\n"
        let bytes = Array(line.utf8)
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress! + written, $0.count - written) }
            if result > 0 {
                written += result
            } else if result < 0 && errno == EINTR {
                continue
            } else {
                return  // stderr is gone or full: a log line is not worth blocking or failing for
            }
        }
    }

    /// Local time with milliseconds and the zone offset, e.g. `2026-12-06T05:20:35.412+0000`.
    static func timestamp() -> String {
        var buffer = [CChar](repeating: 0, count: 48)
        let length = cmortar_timestamp(&buffer, Int32(buffer.count))
        return length > 0 ? text(buffer) : "-"
    }

    /// The characters of a NUL-terminated C buffer.
    private static func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
