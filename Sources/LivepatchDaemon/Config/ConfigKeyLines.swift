/// Finds the line that sets a top-level key, for error messages: TOMLKit reports lines for
/// syntax errors only, not for the nodes of a parsed table.
///
/// A plain scan is enough for a flat file: the first line that starts, after blanks, with the
/// key (bare or quoted) followed by `=` or `.` (a dotted key), or a table header `[key]`,
/// `[key.…]` or `[[key]]`. Lines inside multi-line strings are not told apart; a key written
/// there as well as for real is reported at its first mention, which is still near the mistake.
struct KeyLines {
    private let lines: [Substring]

    init(_ text: String) {
        lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    }

    /// 1-based line of the first assignment of `key`, or nil when none is found.
    func line(of key: String) -> Int? {
        for (index, raw) in lines.enumerated() where Self.sets(raw, key) {
            return index + 1
        }
        return nil
    }

    private static func sets(_ raw: Substring, _ key: String) -> Bool {
        var line = raw.drop(while: { $0 == " " || $0 == "\t" })
        if line.hasPrefix("[") {
            line = line.drop(while: { $0 == "[" || $0 == " " || $0 == "\t" })
            guard let rest = afterKey(line, key) else { return false }
            return rest.first == "]" || rest.first == "."
        }
        guard let rest = afterKey(line, key) else { return false }
        return rest.first == "=" || rest.first == "."
    }

    /// What follows `key` (bare, "double" or 'single' quoted) and blanks, or nil if `line` does not start with it.
    private static func afterKey(_ line: Substring, _ key: String) -> Substring? {
        for form in [key, "\"\(key)\"", "'\(key)'"] where line.hasPrefix(form) {
            let rest = line.dropFirst(form.count)
            // `apply` must not match `apply_delay`.
            if form == key, let next = rest.first, next.isLetter || next.isNumber || next == "_" || next == "-" { continue }
            return rest.drop(while: { $0 == " " || $0 == "\t" })
        }
        return nil
    }
}
