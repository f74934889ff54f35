import Logging
import LivepatchSystem

/// The journal fields of one log event, shared by both handlers so the journal and stderr
/// always carry the same information.
struct LogFields {
    static let identifier = "livepatchd"

    /// Fields the handler sets itself; metadata cannot override them.
    private static let reserved: Set<String> = [
        "MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "CODE_FILE", "CODE_LINE", "CODE_FUNC",
    ]

    let message: String
    let level: Logger.Level
    /// Metadata and error as `(FIELD_NAME, value)`, sorted by name.
    let extra: [(name: String, value: String)]

    init(event: LogEvent, handlerMetadata: Logger.Metadata, provider: Logger.MetadataProvider?) {
        var merged = handlerMetadata
        if let provided = provider?.get() { merged.merge(provided) { _, new in new } }
        if let metadata = event.metadata { merged.merge(metadata) { _, new in new } }
        var extra: [String: String] = [:]
        for (key, value) in merged {
            let name = JournalWriter.fieldName(for: key)
            if !Self.reserved.contains(name) { extra[name] = Self.text(of: value) }
        }
        if let error = event.error { extra["ERROR"] = String(describing: error) }
        self.message = event.message.description
        self.level = event.level
        self.extra = extra.sorted { $0.key < $1.key }.map { (name: $0.key, value: $0.value) }
    }

    /// syslog(3) priority, the journal's `PRIORITY`.
    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    private static func text(of value: Logger.MetadataValue) -> String {
        switch value {
        case .string(let string): string
        case .stringConvertible(let convertible): convertible.description
        default: value.description
        }
    }
}
