/// Why manifest bytes are not a well-formed manifest; each message names the field at fault.
public enum ManifestError: Error, Sendable, Equatable, CustomStringConvertible {
    case tooLarge(size: Int, limit: Int)
    case notUTF8
    case notJSON(detail: String)
    /// The top level is valid JSON but not an object; `got` is the JSON type found.
    case notAnObject(got: String)
    case missingField(String)
    /// JSON parsers disagree on which of two equal keys wins; a signed manifest must be unambiguous.
    case duplicateField(String)
    /// `expected` and `got` are phrases such as "a list of strings" and "a number".
    case wrongType(field: String, expected: String, got: String)
    case invalidValue(field: String, reason: String)

    public var description: String {
        switch self {
        case .tooLarge(let size, let limit):
            "manifest is \(size) bytes, more than the \(limit) bytes allowed"
        case .notUTF8:
            "manifest is not valid UTF-8"
        case .notJSON(let detail):
            "manifest is not valid JSON: \(detail)"
        case .notAnObject(let got):
            "manifest must be a JSON object, got \(got)"
        case .missingField(let field):
            "required field \"\(field)\" is missing"
        case .duplicateField(let field):
            "field \"\(field)\" appears more than once"
        case .wrongType(let field, let expected, let got):
            "field \"\(field)\" must be \(expected), got \(got)"
        case .invalidValue(let field, let reason):
            "field \"\(field)\" \(reason)"
        }
    }
}
