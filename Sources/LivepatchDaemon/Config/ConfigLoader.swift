import LivepatchSystem
import TOMLKit

/// Builds the effective ``Configuration`` in layers (STYLE.md item 6), each overriding the last:
///
/// 1. the defaults of ``Configuration``;
/// 2. the config file: `--config FILE`, which must exist, or `/etc/livepatchd/livepatchd.toml`,
///    which may be missing;
/// 3. its drop-ins `FILE.d/*.toml` in byte order of their names (`10-site.toml` before
///    `50-canary.toml`); a missing `.d` directory is fine, and drop-ins are read even when the
///    default file is missing;
/// 4. the command-line flags (``ConfigOverrides``).
///
/// Relative paths in a file are resolved against the directory of the file that sets them, so a
/// config and its patch directory can move together and never depend on the daemon's working
/// directory; relative paths in flags are resolved against the current directory, as any
/// command does.
///
/// The first problem stops loading: an unknown key, a wrong type, an invalid value or a TOML
/// syntax error is a ``ConfigError`` naming the file, line and key.
public struct ConfigLoader {
    public static func load(configPath: String?, overrides: ConfigOverrides) throws(ConfigError) -> Configuration {
        try load(configPath: configPath, defaultPath: Configuration.defaultPath, overrides: overrides)
    }

    /// `defaultPath` is injectable so tests can point the "may be missing" file into a temporary directory.
    static func load(configPath: String?, defaultPath: String, overrides: ConfigOverrides) throws(ConfigError) -> Configuration {
        let workingDirectory = ConfigFiles.currentDirectory()
        let path = ConfigPath.resolve(configPath ?? defaultPath, against: workingDirectory)
        var config = Configuration()

        if let bytes = try read(path) {
            try apply(contentsOf: bytes, file: path, to: &config)
            config.sources.append(path)
        } else if configPath != nil {
            throw ConfigError(.unreadable, origin: .file(path, line: nil), message: "cannot read: file does not exist")
        }

        let dropInDirectory = path + ".d"
        let names: [String]?
        do {
            names = try ConfigFiles.dropIns(in: dropInDirectory)
        } catch {
            throw ConfigError(.unreadable, origin: .file(dropInDirectory, line: nil), message: "cannot list drop-ins: \(error)")
        }
        for name in names ?? [] {
            let dropIn = dropInDirectory + "/" + name
            // Listed a moment ago: if it vanished since, it is simply no longer part of the config.
            guard let bytes = try read(dropIn) else { continue }
            try apply(contentsOf: bytes, file: dropIn, to: &config)
            config.sources.append(dropIn)
        }

        for (key, value) in overrides.entries {
            do {
                try key.apply(.string(value), to: &config, relativeTo: workingDirectory)
            } catch {
                throw ConfigError(error.kind, origin: .flag(key.flag), key: key.rawValue, message: error.message)
            }
        }
        return config
    }

    private static func read(_ path: String) throws(ConfigError) -> [UInt8]? {
        do {
            return try ConfigFiles.read(path)
        } catch {
            throw ConfigError(.unreadable, origin: .file(path, line: nil), message: "cannot read: \(error)")
        }
    }

    /// Applies the contents of one config file or drop-in over `config`, exactly as ``load(configPath:overrides:)``
    /// does for each file it reads, without touching the file system: `file` is the absolute path
    /// errors name and relative paths are resolved against. The fuzzer calls this too.
    public static func apply(contentsOf bytes: [UInt8], file: String, to config: inout Configuration) throws(ConfigError) {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ConfigError(.syntax, origin: .file(file, line: nil), message: "not valid UTF-8")
        }
        try apply(text, file: file, to: &config)
    }

    /// Applies one file's keys in the order they appear, so the first problem reported is the
    /// first one an editor would show.
    static func apply(_ text: String, file: String, to config: inout Configuration) throws(ConfigError) {
        if let (line, column) = TOMLHeaderGuard.firstAbortingHeader(in: text) {
            throw ConfigError(
                .syntax, origin: .file(file, line: line),
                message: "TOML syntax error at column \(column): expected a table name after '['")
        }
        if let (line, column) = TOMLHeaderGuard.firstAbortingDateTime(in: text) {
            throw ConfigError(
                .syntax, origin: .file(file, line: line),
                message: "TOML syntax error at column \(column): a date without a valid time after 'T' (no key takes a date)")
        }
        if let (line, column) = TOMLHeaderGuard.firstAbortingArrayValue(in: text) {
            throw ConfigError(
                .syntax, origin: .file(file, line: line),
                message: "TOML syntax error at column \(column): expected a value or ']', saw '}'")
        }
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            let position = error.source.begin
            throw ConfigError(
                .syntax, origin: .file(file, line: position.line),
                message: "TOML syntax error at column \(position.column): \(error.description)")
        } catch {
            throw ConfigError(.syntax, origin: .file(file, line: nil), message: "TOML syntax error: \(error)")
        }

        let lines = KeyLines(text)
        let keys = table.keys.map { (name: $0, line: lines.line(of: $0)) }
            .sorted { ($0.line ?? .max, $0.name) < ($1.line ?? .max, $1.name) }
        let directory = ConfigPath.directory(of: file)
        for (name, line) in keys {
            guard let key = ConfigKey(rawValue: name) else {
                let known = ConfigKey.allCases.map(\.rawValue).joined(separator: ", ")
                let what = table[name]?.type == .table ? "unknown table (the config is flat)" : "unknown key"
                throw ConfigError(.unknownKey, origin: .file(file, line: line), key: name, message: "\(what); known keys: \(known)")
            }
            guard let node = table[name] else { continue }
            do {
                try key.apply(ConfigValue(node), to: &config, relativeTo: directory)
            } catch {
                throw ConfigError(error.kind, origin: .file(file, line: line), key: name, message: error.message)
            }
        }
    }
}

extension ConfigValue {
    init(_ node: TOMLValueConvertible) {
        switch node.type {
        case .string: self = .string(node.string ?? "")
        case .bool: self = .bool(node.bool ?? false)
        case .int: self = .integer(node.int ?? 0)
        default: self = .other(type: node.type.description, text: node.debugDescription)
        }
    }
}
