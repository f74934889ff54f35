// FoundationEssentials has the JSON coders and nothing heavier: lpclient links this module and
// must not carry full Foundation's ICU data.
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Any JSON value, as carried in Varlink `parameters`.
///
/// Integers keep their own case so that 64-bit values (pids, sizes, taint masks) survive a
/// round trip exactly. ``init(parsing:)`` reads numbers with a fraction or an exponent as
/// ``double(_:)``; `Decodable` cannot see how a number was written, so there a number whose
/// value is a whole `Int` is ``int(_:)`` however it was written.
public enum JSONValue: Sendable, Equatable, Hashable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])
}

extension JSONValue: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int.self) {
            self = .int(value)
        } else if let value = try? container.decode(Double.self) {
            // Foundation decodes `2.0` or `2e0` as an Int already; a text such as
            // `337203685477337199.99` is no Int but reads as a whole Double, and must become the
            // same case, or it would change on its way back through `serialized()`.
            self = Int(exactly: value).map(JSONValue.int) ?? .double(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else if let value = try? container.decode([String: JSONValue].self) {
            self = .object(value)
        } else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a JSON value")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .int(let value): try container.encode(value)
        case .double(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}

// MARK: - Conversion from and to Codable types

extension JSONValue {
    /// The JSON `encoder` makes of `value`, so its key strategy (e.g. snake_case) applies.
    public init(encoding value: some Encodable, with encoder: JSONEncoder = JSONEncoder()) throws {
        let data = try encoder.encode(value)
        self = try JSONValue(parsing: data)
    }

    /// Decodes `type` from this value with `decoder`, so its key strategy applies.
    public func decode<T: Decodable>(_ type: T.Type, with decoder: JSONDecoder = JSONDecoder()) throws -> T {
        try decoder.decode(type, from: Data(serialized()))
    }

    /// Encodes `value` as a JSON object, the shape Varlink requires for `parameters`.
    public static func object(
        encoding value: some Encodable, with encoder: JSONEncoder = JSONEncoder()
    ) throws -> [String: JSONValue] {
        let encoded = try JSONValue(encoding: value, with: encoder)
        guard case .object(let object) = encoded else {
            let context = EncodingError.Context(
                codingPath: [],
                debugDescription: "Varlink parameters must encode as a JSON object, not \(encoded.kindName)"
            )
            throw EncodingError.invalidValue(value, context)
        }
        return object
    }

    /// Decodes `type` from Varlink `parameters`.
    public static func decode<T: Decodable>(
        _ type: T.Type, from object: [String: JSONValue], with decoder: JSONDecoder = JSONDecoder()
    ) throws -> T {
        try JSONValue.object(object).decode(type, with: decoder)
    }
}

// MARK: - Accessors

extension JSONValue {
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// The value of an integral number, whichever case holds it.
    public var intValue: Int? {
        switch self {
        case .int(let value): return value
        case .double(let value): return Int(exactly: value)
        default: return nil
        }
    }

    public var doubleValue: Double? {
        switch self {
        case .int(let value): return Double(value)
        case .double(let value): return value
        default: return nil
        }
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    public var objectValue: [String: JSONValue]? {
        if case .object(let value) = self { return value }
        return nil
    }

    public subscript(key: String) -> JSONValue? {
        objectValue?[key]
    }

    /// The JSON type, for error messages ("expected an object, found a string").
    public var kindName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .int, .double: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

extension JSONValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral,
    ExpressibleByDictionaryLiteral
{
    public init(nilLiteral: ()) { self = .null }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}

// MARK: - Replies framed from an encoder's output

extension VarlinkReply.Encoded {
    /// A final reply whose parameters are `encoder`'s JSON of `value`, framed as the encoder
    /// wrote it: a long reply (1000 patches, 300 KB) is not parsed and written again. The
    /// encoder's output is JSON text without NUL (it escapes U+0000), so it frames as it is.
    public init(parameters value: some Encodable, encoder: JSONEncoder) throws {
        let json = try encoder.encode(value)
        guard json.first(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }) == UInt8(ascii: "{") else {
            let context = EncodingError.Context(codingPath: [], debugDescription: "Varlink parameters must encode as a JSON object")
            throw EncodingError.invalidValue(value, context)
        }
        var frame = Array(#"{"parameters":"#.utf8)
        frame.reserveCapacity(json.count + 16)
        frame.append(contentsOf: json)
        frame.append(contentsOf: [UInt8(ascii: "}"), 0])
        self.init(frame: frame)
    }
}
