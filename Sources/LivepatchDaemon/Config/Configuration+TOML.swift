import LivepatchCore

extension Configuration {
    /// The effective configuration as a TOML file that would reproduce it, every key present,
    /// durations and sizes in the notation the file takes (`"1min 30s"`, `"64MiB"`); printed by
    /// `livepatchd --check-config`.
    public func renderTOML() -> String {
        var out = "# Effective livepatchd configuration.\n"
        if sources.isEmpty {
            out += "# No config file was read: built-in defaults and flags only.\n"
        } else {
            out += "# Read from, in order: \(sources.joined(separator: ", "))\n"
        }
        for key in ConfigKey.allCases {
            let (value, note) = rendered(key)
            out += "\(key.rawValue) = \(value)"
            if let note { out += "  # \(note)" }
            out += "\n"
        }
        return out
    }

    private func rendered(_ key: ConfigKey) -> (String, String?) {
        switch key {
        case .backend: (quoted(backend.rawValue), nil)
        case .simulatedRoot: (quoted(simulatedRoot), backend == .simulated ? nil : "unused with the kernel backend")
        case .simulatedKernel:
            (
                quoted(simulatedKernel ?? ""),
                backend != .simulated
                    ? "unused with the kernel backend" : simulatedKernel == nil ? "empty: the running kernel's release" : nil
            )
        case .patchDir: (quoted(patchDir), nil)
        case .stateDir: (quoted(stateDir), nil)
        case .socket: (quoted(socket), nil)
        case .keysDir: (quoted(keysDir), nil)
        case .metricsFile: (quoted(metricsFile ?? ""), metricsFile == nil ? "empty: no metrics file" : nil)
        case .apply: (quoted(policy.apply.rawValue), nil)
        case .applyDelay: (quoted(Units.formatDuration(policy.applyDelay)), nil)
        case .transitionTimeout: (quoted(Units.formatDuration(policy.transitionTimeout)), nil)
        case .forceAfterTimeout: (String(policy.forceAfterTimeout), nil)
        case .requireSignature: (String(policy.requireSignature), nil)
        case .maxModuleSize: (quoted(Units.formatSize(policy.maxModuleSize)), nil)
        case .settleTimeout: (quoted(Units.formatDuration(policy.settleTimeout)), nil)
        case .rolloutWaves: (String(policy.rollout.waves), policy.rollout.waves == 1 ? "1: every host at once" : nil)
        case .rolloutBake: (quoted(Units.formatDuration(policy.rollout.bake)), nil)
        case .rolloutWave:
            policy.rollout.pinnedWave.map { (String($0), nil) } ?? (quoted(""), "empty: derived from the machine id")
        case .machineIDFile: (quoted(machineIDFile), nil)
        case .quarantineWindow: (quoted(Units.formatDuration(policy.quarantineWindow)), nil)
        case .logLevel: (quoted(logLevel.rawValue), nil)
        }
    }

    /// A TOML basic string.
    private func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                let hex = String(scalar.value, radix: 16, uppercase: true)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
