import LivepatchCore

/// A value as TOML or a flag gave it, reduced to what the keys distinguish.
enum ConfigValue: Sendable {
    case string(String)
    case bool(Bool)
    case integer(Int)
    /// Any other TOML type, kept only to say what was found.
    case other(type: String, text: String)

    /// How an error message shows what was found: `"sometimes"`, `integer 5`.
    var shown: String {
        switch self {
        case .string(let text): "\"\(text)\""
        case .bool(let value): "boolean \(value)"
        case .integer(let value): "integer \(value)"
        case .other(let type, let text): "\(type) \(text)"
        }
    }
}

/// Why one value was refused; ``ConfigLoader`` adds where it came from.
struct ConfigProblem: Error {
    var kind: ConfigError.Kind
    var message: String
}

/// The flat keys of DESIGN.md "Policy (config)", in the order the rendered config lists them.
enum ConfigKey: String, CaseIterable, Sendable {
    case backend
    case simulatedRoot = "simulated_root"
    case simulatedKernel = "simulated_kernel"
    case patchDir = "patch_dir"
    case stateDir = "state_dir"
    case socket
    case keysDir = "keys_dir"
    case metricsFile = "metrics_file"
    case apply
    case applyDelay = "apply_delay"
    case transitionTimeout = "transition_timeout"
    case forceAfterTimeout = "force_after_timeout"
    case requireSignature = "require_signature"
    case maxModuleSize = "max_module_size"
    case settleTimeout = "settle_timeout"
    case rolloutWaves = "rollout_waves"
    case rolloutBake = "rollout_bake"
    case rolloutWave = "rollout_wave"
    case machineIDFile = "machine_id_file"
    case quarantineWindow = "quarantine_window"
    case logLevel = "log_level"

    /// The `livepatchd` flag that overrides this key.
    var flag: String { "--" + rawValue.split(separator: "_").joined(separator: "-") }

    /// Sets this key from `value`; relative paths are resolved against `directory`.
    func apply(_ value: ConfigValue, to config: inout Configuration, relativeTo directory: String) throws(ConfigProblem) {
        switch self {
        case .backend: config.backend = try choice(value)
        case .simulatedRoot: config.simulatedRoot = try path(value, directory)
        case .simulatedKernel:
            let release = try string(value, expecting: "a kernel release such as \"6.1.0-26-amd64\"")
            if release.contains(where: { $0 == "/" || $0.isWhitespace }) {
                throw ConfigProblem(kind: .invalidValue, message: "expected a kernel release such as \"6.1.0-26-amd64\", got \(value.shown)")
            }
            // Empty restores the default (the running kernel's release): a drop-in can undo a setting.
            config.simulatedKernel = release.isEmpty ? nil : release
        case .patchDir: config.patchDir = try path(value, directory)
        case .stateDir: config.stateDir = try path(value, directory)
        case .socket:
            let socket = try path(value, directory)
            // sockaddr_un.sun_path holds 108 bytes including the terminating NUL.
            if socket.utf8.count > 107 {
                throw ConfigProblem(kind: .invalidValue, message: "socket path is \(socket.utf8.count) bytes, a Unix socket path can have at most 107: \"\(socket)\"")
            }
            config.socket = socket
        case .keysDir: config.keysDir = try path(value, directory)
        case .metricsFile:
            // Empty turns it off again: a drop-in can undo a setting.
            let text = try string(value, expecting: "a path string, or \"\" for none")
            config.metricsFile = nil
            if !text.isEmpty { config.metricsFile = try path(value, directory) }
        case .apply: config.policy.apply = try choice(value)
        case .applyDelay: config.policy.applyDelay = try duration(value)
        case .transitionTimeout: config.policy.transitionTimeout = try duration(value, allowZero: false)
        case .forceAfterTimeout: config.policy.forceAfterTimeout = try bool(value)
        case .requireSignature: config.policy.requireSignature = try bool(value)
        case .maxModuleSize:
            let text = try string(value, expecting: "a size string such as \"64MiB\"")
            let size: Int64
            do {
                size = try Units.parseSize(text)
            } catch {
                throw ConfigProblem(kind: .invalidValue, message: error.description)
            }
            if size == 0 { throw ConfigProblem(kind: .invalidValue, message: "must be greater than 0, got \(value.shown)") }
            config.policy.maxModuleSize = size
        case .settleTimeout: config.policy.settleTimeout = try duration(value)
        case .rolloutWaves: config.policy.rollout.waves = try integer(value, in: 1...1000)
        case .rolloutBake: config.policy.rollout.bake = try duration(value)
        case .rolloutWave:
            // "" derives the wave from the machine id again: a drop-in can undo a pin.
            if case .string("") = value {
                config.policy.rollout.pinnedWave = nil
            } else {
                config.policy.rollout.pinnedWave = try integer(value, in: 0...999)
            }
        case .machineIDFile: config.machineIDFile = try path(value, directory)
        case .quarantineWindow: config.policy.quarantineWindow = try duration(value)
        case .logLevel: config.logLevel = try choice(value)
        }
    }

    // MARK: - Value kinds

    private func string(_ value: ConfigValue, expecting: String) throws(ConfigProblem) -> String {
        guard case .string(let text) = value else {
            throw ConfigProblem(kind: .wrongType, message: "expected \(expecting), got \(value.shown)")
        }
        return text
    }

    /// A TOML integer; a flag's string of digits counts as one.
    private func integer(_ value: ConfigValue, in range: ClosedRange<Int>) throws(ConfigProblem) -> Int {
        let number: Int
        switch value {
        case .integer(let n): number = n
        case .string(let text) where Int(text) != nil: number = Int(text) ?? 0
        default: throw ConfigProblem(kind: .wrongType, message: "expected an integer from \(range.lowerBound) to \(range.upperBound), got \(value.shown)")
        }
        guard range.contains(number) else {
            throw ConfigProblem(kind: .invalidValue, message: "expected an integer from \(range.lowerBound) to \(range.upperBound), got \(value.shown)")
        }
        return number
    }

    private func bool(_ value: ConfigValue) throws(ConfigProblem) -> Bool {
        guard case .bool(let flag) = value else {
            throw ConfigProblem(kind: .wrongType, message: "expected true or false, got \(value.shown)")
        }
        return flag
    }

    private func choice<T: RawRepresentable & CaseIterable>(_ value: ConfigValue) throws(ConfigProblem) -> T where T.RawValue == String {
        let names = T.allCases.map { "\"\($0.rawValue)\"" }
        let expected = names.count == 2 ? names.joined(separator: " or ") : "one of " + names.joined(separator: ", ")
        let text = try string(value, expecting: expected)
        guard let result = T(rawValue: text) else {
            throw ConfigProblem(kind: .invalidValue, message: "expected \(expected), got \(value.shown)")
        }
        return result
    }

    private func duration(_ value: ConfigValue, allowZero: Bool = true) throws(ConfigProblem) -> Duration {
        let text = try string(value, expecting: "a duration string such as \"30s\"")
        let duration: Duration
        do {
            duration = try Units.parseDuration(text)
        } catch {
            throw ConfigProblem(kind: .invalidValue, message: error.description)
        }
        if !allowZero, duration == .zero {
            throw ConfigProblem(kind: .invalidValue, message: "must be greater than 0, got \(value.shown)")
        }
        return duration
    }

    private func path(_ value: ConfigValue, _ directory: String) throws(ConfigProblem) -> String {
        let text = try string(value, expecting: "a path string")
        if text.isEmpty { throw ConfigProblem(kind: .invalidValue, message: "expected a path, got an empty string") }
        return ConfigPath.resolve(text, against: directory)
    }
}

enum ConfigPath {
    /// `path` made absolute against `directory`, with `.`, `..` and repeated slashes removed
    /// lexically (symlinks are left to the kernel to follow).
    static func resolve(_ path: String, against directory: String) -> String {
        let joined = path.hasPrefix("/") ? path : directory + "/" + path
        var components: [Substring] = []
        for component in joined.split(separator: "/") {
            switch component {
            case ".": continue
            case "..": _ = components.popLast()
            default: components.append(component)
            }
        }
        return "/" + components.joined(separator: "/")
    }

    /// The directory part of an absolute path.
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return "/" }
        return String(path[..<slash])
    }
}
