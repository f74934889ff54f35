import Logging
import LivepatchSystem

/// Writes each log event as one structured journal entry: `MESSAGE`, `PRIORITY`,
/// `SYSLOG_IDENTIFIER=livepatchd`, `CODE_FILE`/`CODE_LINE`/`CODE_FUNC`, and every metadata
/// key uppercased as a field of its own (`livepatch_name` → `LIVEPATCH_NAME`).
public struct JournalLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public var logLevel: Logger.Level
    private let send: @Sendable ([(name: String, value: String)]) throws(SystemError) -> Void

    public init(level: Logger.Level = .info, metadataProvider: Logger.MetadataProvider? = nil) {
        self.init(level: level, metadataProvider: metadataProvider) { fields throws(SystemError) in
            try JournalWriter.send(fields)
        }
    }

    /// Sends through `send` instead of the journal (tests).
    init(
        level: Logger.Level, metadataProvider: Logger.MetadataProvider?,
        send: @escaping @Sendable ([(name: String, value: String)]) throws(SystemError) -> Void
    ) {
        self.logLevel = level
        self.metadataProvider = metadataProvider
        self.send = send
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let fields = LogFields(event: event, handlerMetadata: metadata, provider: metadataProvider)
        do {
            try send(Self.journalFields(fields, event: event))
        } catch {
            // journald went away (restart, shutdown): keep the line rather than lose it.
            StandardError.write(StderrLogHandler.line(fields) + " (journal: \(error))\n")
        }
    }

    static func journalFields(_ fields: LogFields, event: LogEvent) -> [(name: String, value: String)] {
        [
            ("MESSAGE", fields.message),
            ("PRIORITY", String(LogFields.priority(fields.level))),
            ("SYSLOG_IDENTIFIER", LogFields.identifier),
            ("CODE_FILE", event.file),
            ("CODE_LINE", String(event.line)),
            ("CODE_FUNC", event.function),
        ] + fields.extra
    }
}
