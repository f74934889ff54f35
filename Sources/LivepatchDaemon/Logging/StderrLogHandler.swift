import Logging
import LivepatchSystem

#if canImport(Glibc)
import Glibc
#endif

/// Writes each log event as one line on stderr with the same fields the journal gets:
/// `livepatchd[notice]: fix_cve applied LIVEPATCH_NAME=fix_cve LIVEPATCH_STATE=applied`.
/// Used when no journald runs (containers, development) or `LIVEPATCHD_LOG=stderr`.
public struct StderrLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public var logLevel: Logger.Level
    private let write: @Sendable (String) -> Void

    public init(level: Logger.Level = .info, metadataProvider: Logger.MetadataProvider? = nil) {
        self.init(level: level, metadataProvider: metadataProvider, write: StandardError.write)
    }

    /// Writes through `write` instead of stderr (tests).
    init(level: Logger.Level, metadataProvider: Logger.MetadataProvider?, write: @escaping @Sendable (String) -> Void) {
        self.logLevel = level
        self.metadataProvider = metadataProvider
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        write(Self.line(LogFields(event: event, handlerMetadata: metadata, provider: metadataProvider)) + "\n")
    }

    static func line(_ fields: LogFields) -> String {
        var line = "\(LogFields.identifier)[\(fields.level)]: \(fields.message)"
        for field in fields.extra {
            line += " \(field.name)=\(quoted(field.value))"
        }
        return line
    }

    /// A value as one shell-like word: quoted when it is empty or holds blanks, quotes,
    /// backslashes or control characters, so every line splits back into its fields.
    static func quoted(_ value: String) -> String {
        let needsQuotes = value.isEmpty || value.unicodeScalars.contains {
            $0 == " " || $0 == "\"" || $0 == "\\" || $0.properties.generalCategory == .control
        }
        guard needsQuotes else { return value }
        var result = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\t": result += "\\t"
            case _ where scalar.properties.generalCategory == .control:
                result += "\\u{\(String(scalar.value, radix: 16))}"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }
}

/// Whole lines on file descriptor 2 with write(2), so concurrent lines do not interleave
/// mid-line the way buffered stdio could.
enum StandardError {
    @Sendable static func write(_ text: String) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { raw in
                try? retryingOnInterrupt("write", "stderr") { Glibc.write(STDERR_FILENO, raw.baseAddress, raw.count) }
            }
            // stderr closed or full: nowhere left to report that.
            guard let written, written > 0 else { return }
            bytes = bytes.dropFirst(written)
        }
    }
}
