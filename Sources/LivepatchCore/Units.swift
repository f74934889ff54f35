/// Durations and sizes as operators write them in config files (DESIGN.md "Policy (config)").
///
/// Durations follow systemd (`systemd.time(7)`): one or more `<number><unit>` parts, summed
/// (`"2min 30s"`, `"1.5s"`, `"500ms"`); a number without a unit is seconds. Units: `us`, `usec`,
/// `ms`, `msec`, `s`, `sec`, `m`, `min`, `h`, `hr`, `d`, `w` (and the long forms `seconds`,
/// `minutes`, `hours`, `days`, `weeks` with their singulars). Months and years are left out on
/// purpose: systemd's `M` next to `m` is a typo waiting to happen. Precision is one microsecond,
/// as in systemd; finer fractions are dropped.
///
/// Sizes are 1024-based (IEC): `B` or no suffix for bytes, `KiB`, `MiB`, `GiB`, `TiB`, and the
/// systemd shorthands `K`, `M`, `G`, `T` with the same 1024-based meaning. `KB`, `MB`, `GB` and
/// `TB` are rejected: half the world reads them as 1000-based, so they are ambiguous. A decimal
/// is fine when it names whole bytes (`"1.5KiB"` is 1536).
public enum Units {
    /// Forms listed in error messages, so an error teaches the fix.
    public static let acceptedDurationForms = #""500ms", "30s", "5min", "1h", "2min 30s", "1.5s"; units us, ms, s, min, h, d, w; a bare number is seconds"#
    public static let acceptedSizeForms = #""64MiB", "512KiB", "1GiB", "100" (bytes); units B, KiB, MiB, GiB, TiB (K, M, G, T mean the same)"#

    public static func parseDuration(_ text: String) throws(UnitError) -> Duration {
        let parts = try split(text, kind: .duration)
        var total: Int64 = 0
        for part in parts {
            guard let unit = durationUnits[part.unit] else {
                throw UnitError(.duration, input: text, problem: "unknown unit \"\(part.unit)\"")
            }
            let micros = try part.number.scaled(by: unit, input: text, kind: .duration)
            let (sum, overflow) = total.addingReportingOverflow(micros)
            guard !overflow else { throw UnitError(.duration, input: text, problem: "too large") }
            total = sum
        }
        return .microseconds(total)
    }

    /// systemd's notation (`"1min 30s"`, `"500ms"`, `"1h"`, `"0"`), except that fractions of a
    /// second drop trailing zeros (`"1.5s"` where systemd prints `"1.500000s"`).
    public static func formatDuration(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0, attoseconds >= 0 else { return "-" + formatDuration(.zero - duration) }
        var micros = seconds.multipliedReportingOverflow(by: 1_000_000).partialValue + attoseconds / 1_000_000_000_000
        if micros == 0 { return "0" }
        var parts: [String] = []
        for (suffix, size) in durationFormatUnits where micros >= size {
            // Below a minute a remainder is written as a decimal of this unit, as systemd does.
            if micros < 60_000_000, micros % size != 0, size > 1 {
                var digits = String(micros % size)
                let width = String(size).count - 1
                digits = String(repeating: "0", count: width - digits.count) + digits
                while digits.hasSuffix("0") { digits.removeLast() }
                parts.append("\(micros / size).\(digits)\(suffix)")
                micros = 0
                break
            }
            parts.append("\(micros / size)\(suffix)")
            micros %= size
        }
        return parts.joined(separator: " ")
    }

    public static func parseSize(_ text: String) throws(UnitError) -> Int64 {
        let parts = try split(text, kind: .size)
        guard parts.count == 1, let part = parts.first else {
            throw UnitError(.size, input: text, problem: "expected one number with one unit")
        }
        if ["KB", "MB", "GB", "TB", "kB"].contains(part.unit) {
            let iec = part.unit.prefix(1).uppercased() + "iB"
            throw UnitError(
                .size, input: text,
                problem: "\"\(part.unit)\" is ambiguous (1000 or 1024?); write \"\(iec)\" for 1024-based units")
        }
        guard let unit = sizeUnits[part.unit] else {
            throw UnitError(.size, input: text, problem: "unknown unit \"\(part.unit)\"")
        }
        return try part.number.scaled(by: unit, input: text, kind: .size, exact: true)
    }

    /// The largest IEC unit that holds the size exactly (`"64MiB"`, `"1536B"`).
    public static func formatSize(_ bytes: Int64) -> String {
        for (suffix, size) in sizeFormatUnits where bytes != 0 && bytes % size == 0 {
            return "\(bytes / size)\(suffix)"
        }
        return "\(bytes)B"
    }

    // MARK: - Tables

    static let durationUnits: [String: Int64] = {
        var table: [String: Int64] = [:]
        let groups: [(Int64, [String])] = [
            (1, ["us", "usec", "µs"]),
            (1_000, ["ms", "msec"]),
            (1_000_000, ["", "s", "sec", "second", "seconds"]),
            (60_000_000, ["m", "min", "minute", "minutes"]),
            (3_600_000_000, ["h", "hr", "hour", "hours"]),
            (86_400_000_000, ["d", "day", "days"]),
            (604_800_000_000, ["w", "week", "weeks"]),
        ]
        for (size, names) in groups { for name in names { table[name] = size } }
        return table
    }()

    static let durationFormatUnits: [(String, Int64)] = [
        ("w", 604_800_000_000), ("d", 86_400_000_000), ("h", 3_600_000_000), ("min", 60_000_000),
        ("s", 1_000_000), ("ms", 1_000), ("us", 1),
    ]

    static let sizeUnits: [String: Int64] = [
        "": 1, "B": 1, "K": 1 << 10, "KiB": 1 << 10, "M": 1 << 20, "MiB": 1 << 20,
        "G": 1 << 30, "GiB": 1 << 30, "T": 1 << 40, "TiB": 1 << 40,
    ]

    static let sizeFormatUnits: [(String, Int64)] = [("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)]
}

/// A duration or size that could not be read: what was wrong, and what would have been right.
public struct UnitError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable { case duration, size }
    public var kind: Kind
    public var input: String
    /// What was wrong, e.g. `unknown unit "mins"`.
    public var problem: String

    public init(_ kind: Kind, input: String, problem: String) {
        self.kind = kind
        self.input = input
        self.problem = problem
    }

    public var acceptedForms: String { kind == .duration ? Units.acceptedDurationForms : Units.acceptedSizeForms }

    public var description: String {
        "invalid \(kind.rawValue) \"\(input)\": \(problem) (expected e.g. \(acceptedForms))"
    }
}

// MARK: - Reading

extension Units {
    /// A non-negative decimal, kept as digits so that `1.5` scales exactly.
    struct Number {
        var whole: Int64
        var fraction: Int64
        /// Number of fraction digits, at most 18 so that `10^digits` fits.
        var fractionDigits: Int

        func scaled(by unit: Int64, input: String, kind: UnitError.Kind, exact: Bool = false) throws(UnitError) -> Int64 {
            let (base, overflow) = whole.multipliedReportingOverflow(by: unit)
            guard !overflow else { throw UnitError(kind, input: input, problem: "too large") }
            guard fractionDigits > 0 else { return base }
            var denominator: Int64 = 1
            for _ in 0..<fractionDigits { denominator *= 10 }
            // fraction < denominator, so the quotient is below unit and cannot overflow.
            let product = fraction.multipliedFullWidth(by: unit)
            let (part, remainder) = denominator.dividingFullWidth(product)
            if exact, remainder != 0 {
                throw UnitError(kind, input: input, problem: "not a whole number of bytes")
            }
            let (sum, overflowed) = base.addingReportingOverflow(part)
            guard !overflowed else { throw UnitError(kind, input: input, problem: "too large") }
            return sum
        }
    }

    struct Part {
        var number: Number
        var unit: String
    }

    /// Splits `"2min 30s"` into number–unit parts; blanks may separate parts and a number from
    /// its unit (`"5 min"`), as systemd allows.
    static func split(_ text: String, kind: UnitError.Kind) throws(UnitError) -> [Part] {
        let scalars = Array(text.unicodeScalars)
        var index = 0
        var parts: [Part] = []
        func skipBlanks() { while index < scalars.count, scalars[index] == " " || scalars[index] == "\t" { index += 1 } }
        func digits() -> String {
            var result = ""
            while index < scalars.count, ("0"..."9").contains(scalars[index]) {
                result.unicodeScalars.append(scalars[index])
                index += 1
            }
            return result
        }

        skipBlanks()
        if index == scalars.count { throw UnitError(kind, input: text, problem: "empty") }
        while index < scalars.count {
            if scalars[index] == "-" { throw UnitError(kind, input: text, problem: "negative values are not allowed") }
            let whole = digits()
            var fraction = ""
            if index < scalars.count, scalars[index] == "." {
                index += 1
                fraction = digits()
            }
            guard !whole.isEmpty || !fraction.isEmpty else {
                let rest = String(String.UnicodeScalarView(scalars[index...]))
                throw UnitError(kind, input: text, problem: "expected a number at \"\(rest)\"")
            }
            while fraction.hasSuffix("0") { fraction.removeLast() }
            guard fraction.count <= 18 else { throw UnitError(kind, input: text, problem: "too many decimals") }
            guard let wholeValue = whole.isEmpty ? 0 : Int64(whole), let fractionValue = fraction.isEmpty ? 0 : Int64(fraction)
            else { throw UnitError(kind, input: text, problem: "too large") }
            skipBlanks()
            var unit = ""
            while index < scalars.count, scalars[index].properties.isAlphabetic {
                unit.unicodeScalars.append(scalars[index])
                index += 1
            }
            parts.append(Part(number: Number(whole: wholeValue, fraction: fractionValue, fractionDigits: fraction.count), unit: unit))
            skipBlanks()
        }
        return parts
    }
}
