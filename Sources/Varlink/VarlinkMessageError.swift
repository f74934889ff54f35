/// Why bytes received are not a well-formed Varlink call or reply.
public enum VarlinkMessageError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The bytes are not JSON (or not UTF-8); the detail comes from the JSON parser.
    case invalidJSON(String)
    /// A NUL byte inside the message: NUL only ever ends a message.
    case embeddedNUL(offset: Int)
    /// The message is JSON but not an object.
    case notAnObject(found: String)
    case missingField(String)
    case wrongType(field: String, expected: String, found: String)
    /// `method` is not `interface.Method` with a reverse-domain interface name.
    case invalidMethodName(String)
    /// `error` is not `interface.ErrorName`.
    case invalidErrorName(String)

    /// The top-level field at fault, or `message` for the message as a whole; what a server
    /// names in `org.varlink.service.InvalidParameter`.
    public var field: String {
        switch self {
        case .invalidJSON, .embeddedNUL, .notAnObject: "message"
        case .missingField(let field), .wrongType(let field, _, _): field
        case .invalidMethodName: "method"
        case .invalidErrorName: "error"
        }
    }

    public var description: String {
        switch self {
        case .invalidJSON(let detail):
            "message is not valid JSON: \(detail)"
        case .embeddedNUL(let offset):
            "message contains a NUL byte at offset \(offset) (NUL may only end a message)"
        case .notAnObject(let found):
            "message must be a JSON object, found \(found)"
        case .missingField(let field):
            "message has no \"\(field)\" field"
        case .wrongType(let field, let expected, let found):
            "\"\(field)\" must be \(expected), found \(found)"
        case .invalidMethodName(let name):
            "method \"\(name)\" is not of the form interface.Method (e.g. io.livepatchd.GetStatus)"
        case .invalidErrorName(let name):
            "error \"\(name)\" is not of the form interface.ErrorName (e.g. org.varlink.service.MethodNotFound)"
        }
    }
}
