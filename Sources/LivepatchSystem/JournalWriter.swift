import CSystemd

#if canImport(Glibc)
import Glibc
#endif

/// Writes structured entries to the systemd journal (sd_journal_sendv(3)).
public enum JournalWriter {
    /// The native protocol socket journald listens on.
    public static let socketPath = "/run/systemd/journal/socket"

    /// A journald is listening. Checked up front because sd_journal_sendv reports success
    /// even when no journald runs and the entry is lost.
    public static var isAvailable: Bool {
        var info = stat()
        return stat(socketPath, &info) == 0 && (info.st_mode & S_IFMT) == S_IFSOCK
    }

    /// Sends one entry. Field names must be journal field names (see ``isValidFieldName(_:)``);
    /// `MESSAGE` should be among them. Values may hold any text, newlines included.
    public static func send(_ fields: [(name: String, value: String)]) throws(SystemError) {
        if let bad = fields.first(where: { !isValidFieldName($0.name) }) {
            throw SystemError("sd_journal_sendv", "field name \(bad.name)", errno: EINVAL)
        }
        // One buffer holding every "NAME=value", so every iovec points into memory that
        // stays put for the duration of the call.
        var bytes: [UInt8] = []
        var ranges: [Range<Int>] = []
        for field in fields {
            let start = bytes.count
            bytes.append(contentsOf: field.name.utf8)
            bytes.append(UInt8(ascii: "="))
            bytes.append(contentsOf: field.value.utf8)
            ranges.append(start..<bytes.count)
        }
        let result = bytes.withUnsafeMutableBytes { buffer in
            let vectors = ranges.map { range in
                iovec(iov_base: buffer.baseAddress.map { $0 + range.lowerBound }, iov_len: range.count)
            }
            return vectors.withUnsafeBufferPointer { sd_journal_sendv($0.baseAddress, Int32($0.count)) }
        }
        if result < 0 { throw SystemError("sd_journal_sendv", socketPath, errno: -result) }
    }

    /// journald keeps only fields named with A-Z, 0-9 and `_`, not starting with `_` or a
    /// digit (a leading `_` is reserved for fields journald adds itself), at most 64 bytes.
    public static func isValidFieldName(_ name: String) -> Bool {
        guard let first = name.utf8.first, name.utf8.count <= 64 else { return false }
        guard first != UInt8(ascii: "_"), !isDigit(first) else { return false }
        return name.utf8.allSatisfy { isUpper($0) || isDigit($0) || $0 == UInt8(ascii: "_") }
    }

    /// Turns a metadata key such as `livepatch_name` into the field `LIVEPATCH_NAME`:
    /// uppercased, other characters replaced by `_`, made valid when it would not be.
    public static func fieldName(for key: String) -> String {
        var bytes = key.utf8.prefix(64).map { byte -> UInt8 in
            if isLower(byte) { return byte - 32 }
            return isUpper(byte) || isDigit(byte) ? byte : UInt8(ascii: "_")
        }
        while bytes.first == UInt8(ascii: "_") { bytes.removeFirst() }
        if bytes.isEmpty || isDigit(bytes[0]) { bytes = Array("FIELD_".utf8) + bytes }
        return String(decoding: bytes.prefix(64), as: UTF8.self)
    }

    private static func isUpper(_ byte: UInt8) -> Bool { (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) }
    private static func isLower(_ byte: UInt8) -> Bool { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) }
    private static func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }
}
