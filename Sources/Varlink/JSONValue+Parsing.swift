/// A strict JSON reader (RFC 8259) from bytes to ``JSONValue``, so that framing a call or a reply
/// needs no Foundation and makes no detour through `Decodable`: every message the daemon
/// receives and every reply `lpclient` reads goes through here.
///
/// Integers that fit an `Int` stay ``JSONValue/int(_:)``; other numbers are doubles. Nesting is
/// limited (``maxDepth``) because the bytes come from any local user, and a deep enough nest
/// would otherwise exhaust the stack. A key given twice keeps its last value.
extension JSONValue {
    /// Deeper arrays and objects are refused; Varlink messages nest a few levels.
    public static let maxDepth = 128

    /// Parses exactly one JSON value, with optional whitespace around it.
    public init(parsing bytes: some Collection<UInt8>) throws(JSONParseError) {
        let parsed: Result<JSONValue, JSONParseError>? = bytes.withContiguousStorageIfAvailable { buffer in
            var reader = JSONReader(buffer)
            return Result { () throws(JSONParseError) in try reader.readDocument() }
        }
        if let parsed {
            self = try parsed.get()
        } else {
            self = try Array(bytes).withUnsafeBufferPointer { buffer throws(JSONParseError) in
                var reader = JSONReader(buffer)
                return try reader.readDocument()
            }
        }
    }
}

/// Why bytes are not JSON: what was found, and where.
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Offset of the offending byte from the start of the input.
    public var offset: Int
    public var reason: String

    public init(offset: Int, reason: String) {
        self.offset = offset
        self.reason = reason
    }

    public var description: String { "\(reason) at byte \(offset)" }
}

private struct JSONReader {
    private let bytes: UnsafeBufferPointer<UInt8>
    private var index = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    mutating func readDocument() throws(JSONParseError) -> JSONValue {
        skipWhitespace()
        guard index < bytes.count else { throw JSONParseError(offset: index, reason: "no JSON value (empty input)") }
        let value = try readValue(depth: 0)
        skipWhitespace()
        guard index == bytes.count else { throw unexpected("after the JSON value") }
        return value
    }

    private mutating func readValue(depth: Int) throws(JSONParseError) -> JSONValue {
        guard index < bytes.count else { throw JSONParseError(offset: index, reason: "unexpected end of input") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try readObject(depth: depth + 1)
        case UInt8(ascii: "["): return try readArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try readString())
        case UInt8(ascii: "t"): try readLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try readLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try readLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try readNumber()
        default: throw unexpected("where a value should start")
        }
    }

    private mutating func readObject(depth: Int) throws(JSONParseError) -> JSONValue {
        try checkDepth(depth)
        index += 1  // {
        var members: [String: JSONValue] = [:]
        skipWhitespace()
        if peek(UInt8(ascii: "}")) {
            index += 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            guard peek(UInt8(ascii: "\"")) else { throw unexpected("where an object key (a string) should be") }
            let key = try readString()
            skipWhitespace()
            guard peek(UInt8(ascii: ":")) else { throw unexpected("where ':' should follow an object key") }
            index += 1
            skipWhitespace()
            members[key] = try readValue(depth: depth)
            skipWhitespace()
            if peek(UInt8(ascii: ",")) {
                index += 1
            } else if peek(UInt8(ascii: "}")) {
                index += 1
                return .object(members)
            } else {
                throw unexpected("where ',' or '}' should be")
            }
        }
    }

    private mutating func readArray(depth: Int) throws(JSONParseError) -> JSONValue {
        try checkDepth(depth)
        index += 1  // [
        var elements: [JSONValue] = []
        skipWhitespace()
        if peek(UInt8(ascii: "]")) {
            index += 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            elements.append(try readValue(depth: depth))
            skipWhitespace()
            if peek(UInt8(ascii: ",")) {
                index += 1
            } else if peek(UInt8(ascii: "]")) {
                index += 1
                return .array(elements)
            } else {
                throw unexpected("where ',' or ']' should be")
            }
        }
    }

    private mutating func readString() throws(JSONParseError) -> String {
        let start = index
        index += 1  // "
        // Most strings have no escape: their bytes are taken as they are, in one piece.
        let contentStart = index
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let content = UnsafeBufferPointer(rebasing: bytes[contentStart..<index])
                index += 1
                return try string(content, at: contentStart)
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { throw JSONParseError(offset: index, reason: "control character in a string (escape it)") }
            index += 1
        }
        var content = Array(bytes[contentStart..<index])
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                return try content.withUnsafeBufferPointer { buffer throws(JSONParseError) in
                    try string(buffer, at: contentStart)
                }
            case UInt8(ascii: "\\"):
                try readEscape(into: &content)
            case 0..<0x20:
                throw JSONParseError(offset: index, reason: "control character in a string (escape it)")
            default:
                content.append(byte)
                index += 1
            }
        }
        throw JSONParseError(offset: start, reason: "string not terminated")
    }

    private func string(_ content: UnsafeBufferPointer<UInt8>, at offset: Int) throws(JSONParseError) -> String {
        // ASCII is valid UTF-8: `String(validating:as:)` is generic, not specialized here, and
        // took an eighth of lpclient's time reading a list of 1000 patches (perf).
        if content.allSatisfy({ $0 < 0x80 }) { return String(decoding: content, as: UTF8.self) }
        guard let text = String(validating: content, as: UTF8.self) else {
            throw JSONParseError(offset: offset, reason: "string is not valid UTF-8")
        }
        return text
    }

    private mutating func readEscape(into content: inout [UInt8]) throws(JSONParseError) {
        let start = index
        index += 1  // backslash
        guard index < bytes.count else { throw JSONParseError(offset: start, reason: "string not terminated") }
        let escaped = bytes[index]
        index += 1
        switch escaped {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): content.append(escaped)
        case UInt8(ascii: "b"): content.append(0x08)
        case UInt8(ascii: "f"): content.append(0x0C)
        case UInt8(ascii: "n"): content.append(0x0A)
        case UInt8(ascii: "r"): content.append(0x0D)
        case UInt8(ascii: "t"): content.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = UInt32(try readHex4(escapeAt: start))
            if (0xD800..<0xDC00).contains(scalar) {
                // A high surrogate must be followed by an escaped low one: together one scalar.
                guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
                else { throw JSONParseError(offset: start, reason: "unpaired UTF-16 surrogate in a \\u escape") }
                index += 2
                let low = UInt32(try readHex4(escapeAt: start))
                guard (0xDC00..<0xE000).contains(low) else {
                    throw JSONParseError(offset: start, reason: "unpaired UTF-16 surrogate in a \\u escape")
                }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00..<0xE000).contains(scalar) {
                throw JSONParseError(offset: start, reason: "unpaired UTF-16 surrogate in a \\u escape")
            }
            // Lone surrogates are refused above, so every value left is a scalar.
            guard let unicode = Unicode.Scalar(scalar) else {
                throw JSONParseError(offset: start, reason: "invalid \\u escape")
            }
            UTF8.encode(unicode) { content.append($0) }
        default:
            throw JSONParseError(offset: start, reason: "invalid escape in a string")
        }
    }

    private mutating func readHex4(escapeAt start: Int) throws(JSONParseError) -> UInt16 {
        guard index + 4 <= bytes.count else { throw JSONParseError(offset: start, reason: "\\u escape needs 4 hex digits") }
        var value: UInt16 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw JSONParseError(offset: start, reason: "\\u escape needs 4 hex digits")
            }
            value = value << 4 | UInt16(digit)
            index += 1
        }
        return value
    }

    private mutating func readNumber() throws(JSONParseError) -> JSONValue {
        let start = index
        if peek(UInt8(ascii: "-")) { index += 1 }
        guard index < bytes.count, isDigit(bytes[index]) else { throw invalidNumber(start) }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
            if index < bytes.count, isDigit(bytes[index]) { throw invalidNumber(start) }  // leading zero
        } else {
            skipDigits()
        }
        var integral = true
        if peek(UInt8(ascii: ".")) {
            integral = false
            index += 1
            guard index < bytes.count, isDigit(bytes[index]) else { throw invalidNumber(start) }
            skipDigits()
        }
        if peek(UInt8(ascii: "e")) || peek(UInt8(ascii: "E")) {
            integral = false
            index += 1
            if peek(UInt8(ascii: "+")) || peek(UInt8(ascii: "-")) { index += 1 }
            guard index < bytes.count, isDigit(bytes[index]) else { throw invalidNumber(start) }
            skipDigits()
        }
        // The grammar above admits only ASCII, which is valid UTF-8.
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        if integral, let value = Int(text) { return .int(value) }
        guard let value = Double(text), value.isFinite else {
            throw JSONParseError(offset: start, reason: "number out of range")
        }
        return .double(value)
    }

    private mutating func readLiteral(_ literal: StaticString) throws(JSONParseError) {
        let expected = UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount)
        guard index + expected.count <= bytes.count,
            UnsafeBufferPointer(rebasing: bytes[index..<index + expected.count]).elementsEqual(expected)
        else { throw unexpected("where a value should start") }
        index += expected.count
    }

    private func checkDepth(_ depth: Int) throws(JSONParseError) {
        guard depth <= JSONValue.maxDepth else {
            throw JSONParseError(offset: index, reason: "nested deeper than \(JSONValue.maxDepth) levels")
        }
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"): index += 1
            default: return
            }
        }
    }

    private mutating func skipDigits() {
        while index < bytes.count, isDigit(bytes[index]) { index += 1 }
    }

    private func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    private func peek(_ byte: UInt8) -> Bool { index < bytes.count && bytes[index] == byte }

    private func invalidNumber(_ start: Int) -> JSONParseError {
        JSONParseError(offset: start, reason: "invalid number")
    }

    private func unexpected(_ context: String) -> JSONParseError {
        guard index < bytes.count else { return JSONParseError(offset: index, reason: "unexpected end of input \(context)") }
        let byte = bytes[index]
        let shown =
            byte >= 0x20 && byte < 0x7F
            ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x\(String(byte, radix: 16, uppercase: false))"
        return JSONParseError(offset: index, reason: "unexpected \(shown) \(context)")
    }
}
