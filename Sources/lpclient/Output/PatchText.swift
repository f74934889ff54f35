import LivepatchAPI

/// How patches read in `list`, `show`, `apply`, `revert` and `rescan`.
enum PatchText {
    static func table(_ patches: [Patch], style: Style) -> String {
        if patches.isEmpty { return "No patches. Bundles dropped into the patch directory appear here." }
        var table = Table(headers: ["NAME", "VERSION", "STATE", "SINCE", "FIXES/REASON"])
        for patch in patches.sorted(by: { $0.name < $1.name }) {
            table.rows.append([
                .init(patch.name), .init(patch.version.isEmpty ? "-" : patch.version),
                .init(patch.state.rawValue, Style.tone(of: patch.state)), .init(TimeText.short(patch.since)),
                .init(remark(patch), patch.reason == nil ? nil : Style.tone(of: patch.state)),
            ])
        }
        return table.render(style)
    }

    /// The reason when there is one (it is what needs attention), else the fixes.
    static func remark(_ patch: Patch) -> String {
        if let reason = patch.reason, !reason.isEmpty { return reason }
        return patch.fixes.isEmpty ? "-" : patch.fixes.joined(separator: ", ")
    }

    static func detail(_ patch: Patch, style: Style) -> String {
        func list(_ items: [String]) -> String { items.isEmpty ? "-" : items.joined(separator: ", ") }
        let blocking = patch.blockingTasks.map { "\($0.pid) (\($0.comm))" }
        var fields: [(String, String)] = [
            ("Name", patch.name),
            ("Version", patch.version.isEmpty ? "-" : patch.version),
            ("State", style.paint(patch.state.rawValue, Style.tone(of: patch.state)) + " since \(TimeText.short(patch.since))"),
        ]
        if let reason = patch.reason { fields.append(("Reason", reason)) }
        if let wave = patch.wave {
            fields.append(("Rollout", "wave \(wave)" + (patch.applyAt.map { ", applies at \(TimeText.short($0))" } ?? "")))
        }
        fields += [
            ("Desired", patch.desired ? "yes" : "no"),
            ("Replace", patch.replace ? "yes (cumulative: supersedes every other livepatch)" : "no"),
            ("Kernels", list(patch.kernels)),
            ("Fixes", list(patch.fixes)),
            ("Description", patch.description ?? "-"),
            ("SHA-256", patch.sha256.isEmpty ? "-" : patch.sha256),
            ("Functions", list(patch.functions)),
            ("Objects", list(patch.objects.map { $0.patched ? "\($0.name) (patched)" : "\($0.name) (not loaded: patched when it loads)" })),
            ("Blocking tasks", list(blocking)),
            ("Stacked on top", patch.stackedBelow.isEmpty ? "-" : list(patch.stackedBelow) + " (revert those first)"),
        ]
        let width = fields.map(\.0.count).max() ?? 0
        return fields.map { label, value in
            style.paint(label + ":", .bold) + String(repeating: " ", count: width - label.count + 1) + value
        }.joined(separator: "\n")
    }

    /// One progress line of `apply`/`revert`, or nil when nothing an operator cares about changed
    /// since `previous` (the daemon resamples blocking tasks every second).
    static func progress(_ patch: Patch, after previous: Patch?, style: Style) -> String? {
        if let previous, previous.state == patch.state, previous.reason == patch.reason,
            previous.blockingTasks == patch.blockingTasks
        {
            return nil
        }
        var line = "\(patch.name): " + style.paint(patch.state.rawValue, Style.tone(of: patch.state))
        if let reason = patch.reason { line += " (\(reason))" }
        if patch.state.isInTransition, !patch.blockingTasks.isEmpty {
            let shown = patch.blockingTasks.prefix(5).map { "\($0.pid) (\($0.comm))" }.joined(separator: ", ")
            let more = patch.blockingTasks.count > 5 ? " and \(patch.blockingTasks.count - 5) more" : ""
            line += ", waiting for \(patch.blockingTasks.count) task(s): \(shown)\(more)"
        }
        return line
    }
}
