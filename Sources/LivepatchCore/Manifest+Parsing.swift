import FoundationEssentials

extension Manifest {
    /// Parses and checks untrusted manifest bytes (DESIGN.md "Patch bundle").
    public static func parse(_ bytes: [UInt8]) throws(ManifestError) -> Manifest {
        let fields = try Fields.parse(bytes, limit: maximumSize)

        let format = try fields.number("format")
        guard format == Double(currentFormat) else {
            throw .invalidValue(field: "format", reason: "must be \(currentFormat), got \(JSONValue.number(format).text)")
        }
        let name = try fields.string("name")
        guard isValidName(name) else {
            throw .invalidValue(field: "name", reason: "must be 1 to 55 characters from a-z, 0-9 and _, got \"\(name)\"")
        }
        let version = try fields.string("version")
        guard !version.isEmpty else { throw .invalidValue(field: "version", reason: "must not be empty") }
        let module = try fields.string("module")
        if let problem = plainFileNameProblem(module) {
            throw .invalidValue(field: "module", reason: "must be a plain file name in the patch directory: \(problem)")
        }
        let sha256 = try fields.string("sha256")
        guard sha256.utf8.count == 64, sha256.utf8.allSatisfy(isLowercaseHexDigit) else {
            throw .invalidValue(field: "sha256", reason: "must be 64 lowercase hexadecimal digits, got \"\(sha256)\"")
        }
        let kernels = try fields.strings("kernels")
        guard !kernels.isEmpty else { throw .invalidValue(field: "kernels", reason: "must list at least one kernel release") }
        if kernels.contains(where: { $0.isEmpty || $0.contains(where: \.isWhitespace) }) {
            throw .invalidValue(field: "kernels", reason: "must hold kernel releases as `uname -r` prints them, without spaces")
        }
        let replace = try fields.bool("replace", default: false)
        let description = try fields.string("description", default: "")
        let fixes = try fields.strings("fixes", default: [])
        let created = try fields.string("created")
        guard RFC3339.isValid(created) else {
            throw .invalidValue(field: "created", reason: "must be an RFC 3339 timestamp such as 2026-11-05T14:03:00Z, got \"\(created)\"")
        }
        let sequence = try fields.number("sequence", default: 0)
        guard sequence >= 0, sequence <= Double(1 << 53), sequence.rounded() == sequence else {
            throw .invalidValue(field: "sequence", reason: "must be a whole number from 0 to 2^53, got \(JSONValue.number(sequence).text)")
        }
        let released = try fields.optionalTime("released")
        let notAfter = try fields.optionalTime("not_after")
        return Manifest(
            format: currentFormat, name: name, version: version, module: module, sha256: sha256, kernels: kernels,
            replace: replace, description: description, fixes: fixes, created: created, sequence: Int(sequence),
            released: released, notAfter: notAfter)
    }

    public static func parse(_ data: Data) throws(ManifestError) -> Manifest {
        try parse([UInt8](data))
    }

    /// `[a-z0-9_]{1,55}`: the kernel's limit for a module name is 55 characters (MODULE_NAME_LEN - 1 on 64-bit).
    public static func isValidName(_ name: String) -> Bool {
        let bytes = name.utf8
        return (1...55).contains(bytes.count)
            && bytes.allSatisfy { (0x61...0x7a).contains($0) || (0x30...0x39).contains($0) || $0 == 0x5f }
    }

    /// Why `name` is not a plain file name, or nil when it is one.
    public static func plainFileNameProblem(_ name: String) -> String? {
        if name.isEmpty { return "it is empty" }
        if name == "." || name == ".." { return "\"\(name)\" names a directory" }
        if name.utf8.contains(0x2f) { return "\"\(name)\" contains /" }
        if name.utf8.contains(0) { return "it contains a NUL byte" }
        if name.utf8.count > 255 { return "it is longer than 255 bytes" }
        return nil
    }

    /// The first key that appears twice in the top-level object of valid JSON, if any.
    /// Foundation keeps the first, other parsers the last: refuse rather than pick.
    static func duplicateTopLevelKey(_ bytes: [UInt8]) -> String? {
        var depth = 0
        var expectingKey = false
        var seen: Set<String> = []
        var index = 0
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "\""):
                let start = index
                index += 1
                while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
                    index += bytes[index] == UInt8(ascii: "\\") ? 2 : 1
                }
                if depth == 1, expectingKey {
                    expectingKey = false
                    let literal = Data(bytes[start...min(index, bytes.count - 1)])
                    let key = (try? JSONDecoder().decode(String.self, from: literal)) ?? String(decoding: literal, as: UTF8.self)
                    if !seen.insert(key).inserted { return key }
                }
            case UInt8(ascii: "{"):
                depth += 1
                if depth == 1 { expectingKey = true }
            case UInt8(ascii: "["):
                depth += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
            case UInt8(ascii: ","):
                if depth == 1 { expectingKey = true }
            default:
                break
            }
            index += 1
        }
        return nil
    }

    private static func isLowercaseHexDigit(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x61...0x66).contains(byte)
    }

    static func describe(_ error: any Error) -> String {
        if case DecodingError.dataCorrupted(let context) = error {
            return context.underlyingError.map { "\(context.debugDescription) (\($0))" } ?? context.debugDescription
        }
        return String(describing: error)
    }
}

/// Typed access to a signed JSON file's top-level object (a manifest, a halt), with messages
/// naming the field.
struct Fields {
    var object: [String: JSONValue]

    /// Checks size, encoding, JSON and unambiguous keys of untrusted bytes.
    static func parse(_ bytes: [UInt8], limit: Int) throws(ManifestError) -> Fields {
        guard bytes.count <= limit else { throw .tooLarge(size: bytes.count, limit: limit) }
        guard String(validating: bytes, as: UTF8.self) != nil else { throw .notUTF8 }
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
        } catch {
            throw .notJSON(detail: Manifest.describe(error))
        }
        guard case .object(let object) = value else { throw .notAnObject(got: value.kindPhrase) }
        if let duplicate = Manifest.duplicateTopLevelKey(bytes) { throw .duplicateField(duplicate) }
        return Fields(object: object)
    }

    func required(_ field: String) throws(ManifestError) -> JSONValue {
        guard let value = object[field] else { throw .missingField(field) }
        return value
    }

    func number(_ field: String, default fallback: Double? = nil) throws(ManifestError) -> Double {
        if let fallback, object[field] == nil { return fallback }
        let value = try required(field)
        guard case .number(let number) = value else { throw .wrongType(field: field, expected: "a number", got: value.kindPhrase) }
        return number
    }

    func string(_ field: String, default fallback: String? = nil) throws(ManifestError) -> String {
        guard let value = object[field] else {
            if let fallback { return fallback }
            throw .missingField(field)
        }
        guard case .string(let string) = value else { throw .wrongType(field: field, expected: "a string", got: value.kindPhrase) }
        return string
    }

    /// An optional RFC 3339 time.
    func optionalTime(_ field: String) throws(ManifestError) -> String? {
        guard object[field] != nil else { return nil }
        let text = try string(field)
        guard RFC3339.isValid(text) else {
            throw .invalidValue(field: field, reason: "must be an RFC 3339 timestamp such as 2026-11-05T14:03:00Z, got \"\(text)\"")
        }
        return text
    }

    func bool(_ field: String, default fallback: Bool) throws(ManifestError) -> Bool {
        guard let value = object[field] else { return fallback }
        guard case .bool(let bool) = value else { throw .wrongType(field: field, expected: "true or false", got: value.kindPhrase) }
        return bool
    }

    func strings(_ field: String, default fallback: [String]? = nil) throws(ManifestError) -> [String] {
        guard let value = object[field] else {
            if let fallback { return fallback }
            throw .missingField(field)
        }
        guard case .array(let elements) = value else {
            throw .wrongType(field: field, expected: "a list of strings", got: value.kindPhrase)
        }
        var strings: [String] = []
        for element in elements {
            guard case .string(let string) = element else {
                throw .wrongType(field: field, expected: "a list of strings", got: "a list containing \(element.kindPhrase)")
            }
            strings.append(string)
        }
        return strings
    }
}
