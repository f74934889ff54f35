import LivepatchAPI

/// `lpclient status`: what an operator wants at a glance, systemctl-status style.
enum StatusText {
    static func render(_ status: Status, style: Style) -> String {
        let kernel = status.kernel
        let dot = style.paint("●", status.degraded ? .bad : .good)
        var lines = ["\(dot) livepatchd: \(status.summary)"]
        var fields: [(String, String)] = [
            ("State", status.degraded ? style.paint("degraded", .bad) : style.paint("ok", .good)),
            ("Kernel", kernel.release + (kernel.simulated ? " (simulated)" : "")),
            ("Livepatch", yesNo(kernel.livepatch)),
            ("Ftrace", kernel.ftrace.map(yesNo) ?? "unknown"),
            ("Lockdown", kernel.lockdown ?? "unknown"),
            ("Module sigs", kernel.signatureEnforced.map { $0 ? "enforced" : "not enforced" } ?? "unknown"),
            ("Taint", taint(kernel)),
            ("Backend", status.backend),
            ("Apply", status.apply == "manual" ? "manual (lpclient apply NAME)" : status.apply),
            ("Patches", counts(status.counts)),
            ("Daemon", status.daemonVersion),
        ]
        if let unsupported = kernel.unsupportedReason {
            fields.insert(("Cannot apply", style.paint(unsupported, .bad)), at: 2)
        }
        let width = max(fields.map(\.0.count).max() ?? 0, "Problems".count)
        func label(_ text: String) -> String { String(repeating: " ", count: width - text.count) + text + ": " }
        lines += fields.map { label($0.0) + $0.1 }
        for (index, problem) in status.problems.enumerated() {
            let prefix = index == 0 ? label("Problems") : String(repeating: " ", count: width + 2)
            lines.append(prefix + style.paint(problem, .bad))
        }
        return lines.joined(separator: "\n")
    }

    static func yesNo(_ value: Bool) -> String { value ? "yes" : "no" }

    /// The value with the kernel's letters, `12288 (OE)`, saying so when every flag is one that
    /// out-of-tree, unsigned livepatch modules set by design (O, E, K), so nobody chases them.
    static func taint(_ kernel: KernelSupport) -> String {
        guard let taint = kernel.taint else { return "unknown" }
        if taint == 0 { return "0 (not tainted)" }
        let flags = kernel.taintFlags
        let expected = flags.allSatisfy { "OEK".contains($0) } ? ", expected with livepatch modules" : ""
        return "\(taint) (\(flags)\(expected))"
    }

    /// Counts in the order of the life cycle, zero counts left out: `3 applied, 1 staged`.
    static func counts(_ counts: [String: Int]) -> String {
        let order = PatchState.allCases.map(\.rawValue)
        let known = order.compactMap { name in counts[name].flatMap { $0 > 0 ? "\($0) \(name)" : nil } }
        let unknown = counts.keys.filter { !order.contains($0) }.sorted().compactMap { name in
            counts[name].flatMap { $0 > 0 ? "\($0) \(name)" : nil }
        }
        let all = known + unknown
        return all.isEmpty ? "none" : all.joined(separator: ", ")
    }
}
