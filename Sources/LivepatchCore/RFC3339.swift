import FoundationEssentials

/// RFC 3339 `date-time`: `YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)`, with field ranges checked.
public enum RFC3339 {
    /// Timestamps on the wire and in the history: UTC, milliseconds.
    public static func string(from date: Date) -> String {
        Date.ISO8601FormatStyle(includingFractionalSeconds: true).format(date)
    }

    /// The instant `text` names, with or without fractional seconds and in any offset; nil when
    /// it is not RFC 3339.
    public static func date(from text: String) -> Date? {
        guard isValid(text) else { return nil }
        let normalized = text.uppercased()
        return (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(normalized))
            ?? (try? Date.ISO8601FormatStyle().parse(normalized))
    }

    public static func isValid(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        var index = 0

        func digits(_ count: Int) -> Int? {
            guard index + count <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[index..<index + count] {
                guard (0x30...0x39).contains(byte) else { return nil }
                value = value * 10 + Int(byte - 0x30)
            }
            index += count
            return value
        }
        func expect(_ characters: String) -> Bool {
            guard index < bytes.count, characters.utf8.contains(bytes[index]) else { return false }
            index += 1
            return true
        }

        guard let year = digits(4), expect("-"), let month = digits(2), expect("-"), let day = digits(2),
            expect("Tt"), let hour = digits(2), expect(":"), let minute = digits(2), expect(":"),
            let second = digits(2)
        else { return false }
        guard (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day), hour <= 23,
            minute <= 59, second <= 60
        else { return false }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            let start = index
            while index < bytes.count, (0x30...0x39).contains(bytes[index]) { index += 1 }
            guard index > start else { return false }
        }
        if expect("Zz") { return index == bytes.count }
        guard expect("+-"), let offsetHour = digits(2), expect(":"), let offsetMinute = digits(2) else { return false }
        return offsetHour <= 23 && offsetMinute <= 59 && index == bytes.count
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}
