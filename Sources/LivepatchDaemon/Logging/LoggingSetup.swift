import Logging
import LivepatchSystem

#if canImport(Glibc)
import Glibc
#endif

/// Chooses where the daemon's logs go and installs it as the process-wide logging backend.
public enum LoggingSetup {
    /// The environment variable that forces plain lines on stderr (`LIVEPATCHD_LOG=stderr`).
    public static let environmentVariable = "LIVEPATCHD_LOG"

    public enum Destination: String, Sendable, Equatable {
        case journal, stderr
    }

    /// The journal when a journald listens, unless `LIVEPATCHD_LOG=stderr` asks otherwise.
    public static func destination(journalAvailable: Bool, override: String?) -> Destination {
        journalAvailable && override != Destination.stderr.rawValue ? .journal : .stderr
    }

    /// Installs the chosen handler. Call once, first thing in `main` (swift-log allows one bootstrap).
    public static func bootstrap(level: Logger.Level) {
        let override = getenv(environmentVariable).map { String(cString: $0) }
        let destination = destination(journalAvailable: JournalWriter.isAvailable, override: override)
        LoggingSystem.bootstrap { _ in
            switch destination {
            case .journal: JournalLogHandler(level: level)
            case .stderr: StderrLogHandler(level: level)
            }
        }
    }
}
