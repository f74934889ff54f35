/// Validation of Varlink names (https://varlink.org/Interface-Definition).
///
/// Interface names are reverse-domain: at least two dot-separated segments of ASCII letters,
/// digits and hyphens, the first starting with a letter, no segment starting or ending with a
/// hyphen. Methods, errors and types are CamelCase: `[A-Z][A-Za-z0-9]*`.
public enum VarlinkNames {
    public static func isValidInterfaceName(_ name: some StringProtocol) -> Bool {
        let segments = Array(name.utf8).split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard segments.count >= 2, let first = segments.first?.first, isLetter(first) else { return false }
        return segments.allSatisfy { segment in
            guard let head = segment.first, let tail = segment.last else { return false }
            return head != UInt8(ascii: "-") && tail != UInt8(ascii: "-")
                && segment.allSatisfy { isLetter($0) || isDigit($0) || $0 == UInt8(ascii: "-") }
        }
    }

    public static func isValidMemberName(_ name: some StringProtocol) -> Bool {
        guard let first = name.utf8.first, first >= UInt8(ascii: "A"), first <= UInt8(ascii: "Z") else { return false }
        return name.utf8.allSatisfy { isLetter($0) || isDigit($0) }
    }

    /// Splits `interface.Member` at its last dot when both halves are valid names.
    public static func splitQualified(_ name: String) -> (interface: String, member: String)? {
        guard let dot = name.lastIndex(of: ".") else { return nil }
        let interface = name[..<dot]
        let member = name[name.index(after: dot)...]
        guard isValidInterfaceName(interface), isValidMemberName(member) else { return nil }
        return (String(interface), String(member))
    }

    private static func isLetter(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
            || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }
}
