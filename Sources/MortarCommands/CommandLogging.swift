import Glibc
import Logging

/// Logging for short-lived commands: warnings and errors only, to stderr, so that a command's output stays its
/// own. `MORTAR_LOG_LEVEL` raises it for debugging.
enum CommandLogging {
    static var quietLogger: Logger {
        var logger = Logger(label: "mortar.cli")
        if let level = ProcessEnvironment.value("MORTAR_LOG_LEVEL").flatMap(Logger.Level.init(rawValue:)) {
            logger.logLevel = level
        } else {
            logger.logLevel = .warning
        }
        return logger
    }
}

enum ProcessEnvironment {
    static func value(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }
}
