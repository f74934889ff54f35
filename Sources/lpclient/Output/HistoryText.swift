import LivepatchAPI

/// `lpclient history` and `lpclient watch`.
enum HistoryText {
    static func table(_ entries: [HistoryEntry], style: Style) -> String {
        if entries.isEmpty { return "No history yet." }
        var table = Table(headers: ["TIME", "NAME", "VERSION", "STATE", "REASON"])
        for entry in entries {
            table.rows.append([
                .init(TimeText.short(entry.time)), .init(entry.name), .init(entry.version.isEmpty ? "-" : entry.version),
                .init(entry.state.rawValue, Style.tone(of: entry.state)), .init(entry.reason ?? "-"),
            ])
        }
        return table.render(style)
    }

    /// One line per event, greppable: `2026-11-25 10:46:44Z fix_cve 1.2 applied`.
    static func event(_ entry: HistoryEntry, style: Style) -> String {
        var line = "\(TimeText.short(entry.time)) \(entry.name) \(entry.version.isEmpty ? "-" : entry.version) "
        line += style.paint(entry.state.rawValue, Style.tone(of: entry.state))
        if let reason = entry.reason { line += " (\(reason))" }
        return line
    }
}
