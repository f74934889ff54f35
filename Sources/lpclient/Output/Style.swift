#if canImport(Glibc)
import Glibc
#endif
import LivepatchAPI

/// Terminal styling: color only on a terminal, never with NO_COLOR (https://no-color.org) or TERM=dumb.
struct Style {
    var color: Bool

    static let plain = Style(color: false)

    /// Decided once per run from stdout and the environment.
    static func forStandardOutput() -> Style {
        let noColor = getenv("NO_COLOR").map { String(cString: $0).isEmpty == false } ?? false
        let dumb = getenv("TERM").map { String(cString: $0) == "dumb" } ?? false
        return Style(color: isatty(STDOUT_FILENO) == 1 && !noColor && !dumb)
    }

    enum Tone: String {
        case good = "32"
        case bad = "31"
        case busy = "33"
        case quiet = "2"
        case bold = "1"
    }

    func paint(_ text: String, _ tone: Tone?) -> String {
        guard color, let tone, !text.isEmpty else { return text }
        return "\u{1B}[\(tone.rawValue)m\(text)\u{1B}[0m"
    }

    static func tone(of state: PatchState) -> Tone? {
        switch state {
        case .applied: .good
        case .failed, .rejected, .quarantined: .bad
        case .pending, .applying, .reverting: .busy
        case .reverted, .superseded, .foreign, .halted: .quiet
        case .staged: nil
        }
    }
}

enum TimeText {
    /// RFC 3339 shortened for a table without parsing dates (no ICU at start-up):
    /// `2026-11-25T10:46:44.123Z` → `2026-11-25 10:46:44Z`. Anything else is shown as it came.
    static func short(_ rfc3339: String) -> String {
        guard rfc3339.count >= 19 else { return rfc3339 }
        var text = rfc3339
        if let separator = text.firstIndex(of: "T") { text.replaceSubrange(separator...separator, with: " ") }
        if let dot = text.firstIndex(of: "."), text.distance(from: text.startIndex, to: dot) == 19 {
            let zone = text[dot...].drop(while: { $0 == "." || $0.isNumber })
            text = String(text[..<dot]) + zone
        }
        return text
    }
}
