#if canImport(Glibc)
import Glibc
#endif

/// Why a call through ``VarlinkClient`` failed; each description says what to do about it.
public enum VarlinkClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Nothing listens on the socket: it does not exist, or its server is gone.
    case unreachable(path: String, errno: Int32)
    /// The socket exists but this user may not connect to it.
    case permissionDenied(path: String)
    /// The service answered with a Varlink error.
    case remote(name: String, parameters: [String: JSONValue])
    /// The service closed the connection before the reply was complete.
    case connectionClosed
    /// The service sent something that is not a valid reply to the call.
    case protocolViolation(String)
    /// The parameters could not be encoded, or the reply decoded, as the types given.
    case typeMismatch(String)
    /// No answer within the client's timeout.
    case timedOut(operation: String)
    case io(operation: String, errno: Int32)

    public var description: String {
        switch self {
        case .unreachable(let path, let errno):
            return "cannot connect to \(path): \(Self.text(errno))"
                + " — is livepatchd running? (systemctl start livepatchd)"
        case .permissionDenied(let path):
            return "cannot connect to \(path): permission denied — check the socket's permissions, or run as root"
        case .remote(let name, let parameters):
            return Self.describeRemote(name: name, parameters: parameters)
        case .connectionClosed:
            return "the service closed the connection before replying — see its log (journalctl -u livepatchd)"
        case .protocolViolation(let detail):
            return "invalid reply from the service: \(detail)"
                + " — is the socket served by livepatchd of a matching version?"
        case .typeMismatch(let detail):
            return "unexpected reply or parameters: \(detail) — client and daemon versions may differ"
        case .timedOut(let operation):
            return "\(operation) timed out — the service is not answering (systemctl status livepatchd)"
        case .io(let operation, let errno):
            return "\(operation) failed: \(Self.text(errno))"
        }
    }

    private static func text(_ errno: Int32) -> String {
        String(cString: strerror(errno))
    }

    private static func describeRemote(name: String, parameters: [String: JSONValue]) -> String {
        switch VarlinkService.ErrorName(rawValue: name) {
        case .interfaceNotFound?:
            return "the service does not provide interface \(parameters["interface"]?.stringValue ?? "?")"
        case .methodNotFound?:
            let method = parameters["method"]?.stringValue ?? "?"
            return "the service has no method \(method) — client and daemon versions may differ"
        case .methodNotImplemented?:
            return "the service does not implement \(parameters["method"]?.stringValue ?? "?")"
        case .invalidParameter?:
            let parameter = parameters["parameter"]?.stringValue ?? "?"
            let reason = parameters["reason"]?.stringValue.map { ": \($0)" } ?? ""
            return "invalid parameter \(parameter)\(reason)"
        case .permissionDenied?:
            return "permission denied — this call needs root"
        case .expectedMore?:
            return "the method must be called with more (a streaming call)"
        case nil:
            guard !parameters.isEmpty else { return name }
            return "\(name) \(String(decoding: JSONValue.object(parameters).serialized(), as: UTF8.self))"
        }
    }
}
