import TOMLKit

/// Finds the table headers that make TOMLKit's parser, toml++ 3, abort the process instead of
/// reporting a syntax error: `[` (or `[[`) followed, after blanks, by anything that cannot start
/// a key, such as `[:p`, `[[=` or a lone `[` at the end of a line. toml++ asserts there
/// (`parse_key()`: "is_bare_key_character(*cp) || is_string_delimiter(*cp)"; fixed upstream in
/// marzer/tomlplusplus#301), and its asserts are compiled into release builds too. Found by
/// the config fuzzer.
///
/// A line of that shape is a header only when the document before it is complete; inside a
/// multi-line string or array it is part of a value, and toml++ reads it as such. So the text
/// before such a line is parsed on its own: if it parses, toml++ would read the line as a header.
/// Lines before the first suspect are never suspects, so parsing that text cannot abort either.
enum TOMLHeaderGuard {
    /// The 1-based line and column of the first character toml++ would abort on, or nil.
    static func firstAbortingHeader(in text: String) -> (line: Int, column: Int)? {
        // Scalars, not Characters: "\r\n" is one Character, and toml++ counts columns in code points.
        let scalars = text.unicodeScalars
        let lines = scalars.split(separator: "\n", omittingEmptySubsequences: false)
        for (index, line) in lines.enumerated() {
            let isLast = index == lines.count - 1
            // toml++ skips a byte order mark at the start of the input.
            let content = index == 0 && line.first == "\u{FEFF}" ? line.dropFirst() : line[...]
            guard let column = badKeyColumn(Array(content), isLast: isLast) else { continue }
            let before = String(scalars[scalars.startIndex..<line.startIndex])
            if (try? TOMLTable(string: before)) != nil { return (index + 1, column) }
        }
        return nil
    }

    /// The 1-based line and column of a date-time toml++ would abort on: a date followed by
    /// `T` and no digit (`1979-05-27T:00`; `parse_time()` asserts "is_decimal_digit(*cp)").
    /// Found by the config fuzzer; no key of livepatchd takes a date, so one in a value position
    /// (after `=`, `[` or `,`) is refused outright, before toml++ sees it.
    static func firstAbortingDateTime(in text: String) -> (line: Int, column: Int)? {
        let lines = text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false)
        for (index, line) in lines.enumerated() {
            let scalars = Array(line)
            var position = 0
            while position < scalars.count {
                defer { position += 1 }
                guard "=[,".unicodeScalars.contains(scalars[position]) else { continue }
                var start = position + 1
                while start < scalars.count, scalars[start] == " " || scalars[start] == "\t" { start += 1 }
                if isDateWithoutTime(scalars[start...]) { return (index + 1, start + 1) }
            }
        }
        return nil
    }

    /// The 1-based line and column of a `}` that comes next after `[` or `,` (blanks, line
    /// breaks and comments between), outside strings and comments: toml++ reads it as an array's
    /// next value and asserts in `parse_value()` ("!is_value_terminator(*cp)"), as in `x = [}`.
    /// Found by the config fuzzer. No valid TOML has it (not in a header, an array or an inline
    /// table), so it is refused wherever it is.
    static func firstAbortingArrayValue(in text: String) -> (line: Int, column: Int)? {
        let scalars = Array(text.unicodeScalars)
        var index = 0, line = 1, lineStart = 0
        var afterOpening = false  // `[` or `,` seen, nothing significant since
        func starts(_ token: String, at position: Int) -> Bool {
            let token = Array(token.unicodeScalars)
            return position + token.count <= scalars.count && Array(scalars[position..<position + token.count]) == token
        }
        func newLine(at position: Int) {
            line += 1
            lineStart = position + 1
        }
        while index < scalars.count {
            let scalar = scalars[index]
            switch scalar {
            case "\n":
                newLine(at: index)
                index += 1
            case " ", "\t", "\r":
                index += 1
            case "#":
                while index < scalars.count, scalars[index] != "\n" { index += 1 }
            case "\"", "'":
                afterOpening = false
                let delimiter = String(scalar)
                let multiLine = starts(delimiter + delimiter + delimiter, at: index)
                let close = multiLine ? delimiter + delimiter + delimiter : delimiter
                index += multiLine ? 3 : 1
                while index < scalars.count, !starts(close, at: index) {
                    // An escape in a basic string: what it escapes is not a delimiter.
                    if scalars[index] == "\\" && scalar == "\"" && index + 1 < scalars.count && scalars[index + 1] != "\n" {
                        index += 1
                    }
                    if scalars[index] == "\n" {
                        if !multiLine { break }  // unterminated: toml++ reports it; the line goes on above
                        newLine(at: index)
                    }
                    index += 1
                }
                if starts(close, at: index) { index += close.unicodeScalars.count }
            case "}" where afterOpening:
                return (line, index - lineStart + 1)
            default:
                afterOpening = scalar == "[" || scalar == ","
                index += 1
            }
        }
        return nil
    }

    /// `dddd-dd-dd` then `T`/`t` and no digit.
    private static func isDateWithoutTime(_ value: ArraySlice<Unicode.Scalar>) -> Bool {
        let shape = Array("dddd-dd-ddT".unicodeScalars)
        guard value.count >= shape.count else { return false }
        for (expected, actual) in zip(shape, value) {
            switch expected {
            case "d": guard ("0"..."9").contains(actual) else { return false }
            case "T": guard actual == "T" || actual == "t" else { return false }
            default: guard actual == expected else { return false }
            }
        }
        let after = value.dropFirst(shape.count).first
        return after.map { !("0"..."9").contains($0) } ?? true
    }

    /// The column of the character after `[`, `[[` and blanks when it cannot start a key,
    /// following toml++'s `parse_table_header`; nil for any other line.
    private static func badKeyColumn(_ line: [Unicode.Scalar], isLast: Bool) -> Int? {
        var index = 0
        func skipBlanks() -> Bool {
            let start = index
            while index < line.count, line[index] == " " || line[index] == "\t" { index += 1 }
            return index > start
        }
        _ = skipBlanks()
        guard index < line.count, line[index] == "[" else { return nil }
        index += 1
        let blanks = skipBlanks()
        if index < line.count, line[index] == "[" {
            // `[ [` is an error toml++ reports properly.
            if blanks { return nil }
            index += 1
            _ = skipBlanks()
        }
        // At the end of a line toml++ sees the line break; at the end of the input it reports EOF.
        guard index < line.count else { return isLast ? nil : index + 1 }
        let next = line[index]
        let startsKey =
            next == "]" || next == "\"" || next == "'" || next == "_" || next == "-"
            || ("a"..."z").contains(next) || ("A"..."Z").contains(next) || ("0"..."9").contains(next)
        return startsKey ? nil : index + 1
    }
}
