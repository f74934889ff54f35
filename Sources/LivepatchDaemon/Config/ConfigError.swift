/// A configuration that cannot be used, located precisely enough to fix it in an editor:
/// `/etc/livepatchd/livepatchd.toml:7: key "apply": expected "auto" or "manual", got "sometimes"`.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, Equatable {
        /// The file or drop-in directory could not be read (missing explicit file, permissions).
        case unreadable
        /// Not valid TOML (or not UTF-8).
        case syntax
        /// A key livepatchd does not know, tables included: the config is flat.
        case unknownKey
        /// A string where a boolean belongs, and the like.
        case wrongType
        /// The right type with a value that means nothing: `apply = "sometimes"`, `"5mins"`.
        case invalidValue
    }

    /// Where the bad value came from.
    public enum Origin: Sendable, Equatable {
        /// A config file or drop-in; `line` is 1-based and nil when unknown.
        case file(String, line: Int?)
        /// A command-line flag, e.g. `--apply`.
        case flag(String)
    }

    public var kind: Kind
    public var origin: Origin
    /// The config key, when the error is about one.
    public var key: String?
    public var message: String

    public init(_ kind: Kind, origin: Origin, key: String? = nil, message: String) {
        self.kind = kind
        self.origin = origin
        self.key = key
        self.message = message
    }

    public var file: String? {
        if case .file(let path, _) = origin { return path }
        return nil
    }

    public var line: Int? {
        if case .file(_, let line) = origin { return line }
        return nil
    }

    public var description: String {
        var location: String
        switch origin {
        case .file(let path, let line): location = line.map { "\(path):\($0)" } ?? path
        case .flag(let flag): location = flag
        }
        if let key, case .file = origin { location += ": key \"\(key)\"" }
        return "\(location): \(message)"
    }
}
