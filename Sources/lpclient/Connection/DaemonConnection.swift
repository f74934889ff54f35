import LivepatchAPI

/// What the commands need from the control socket: one call, or one `more` call streamed.
/// The transport behind it (Varlink over the Unix socket) is chosen in ``DaemonConnector``.
protocol DaemonConnection {
    /// Calls `method` and decodes its single reply's parameters.
    func call<P: Encodable, R: Decodable>(_ method: LivepatchInterface.Method, _ parameters: P) throws -> R

    /// Calls `method` (no parameters) and returns its reply's parameters as JSON text, keys
    /// sorted, without decoding them into types: `--json` output that only passes a long reply
    /// on (1000 patches) should not pay for decoding and encoding it again.
    func callForJSON(_ method: LivepatchInterface.Method) throws -> [UInt8]

    /// GetStatus: the reply read without Codable (see ``Status/init(reply:)``).
    func status() throws -> StatusReply

    /// Calls `method` with `more` and hands each reply to `each`, the last one included, until
    /// the daemon says it is the last (`continues` false) or the connection ends.
    func stream<P: Encodable, R: Decodable>(
        _ method: LivepatchInterface.Method, _ parameters: P, _ each: (R) throws -> Void
    ) throws
}

/// Why a call got no usable reply. Implementations of ``DaemonConnection`` throw these, so
/// that the exit code and the hint do not depend on the transport.
enum ClientError: Error {
    /// connect(2) failed other than with EACCES: no such socket, nobody listening (ECONNREFUSED).
    case unreachable(socket: String, errno: Int32)
    /// connect(2) failed with EACCES, or the daemon answered `io.livepatchd.PermissionDenied`.
    case permissionDenied(socket: String, errno: Int32)
    /// The daemon answered with a Varlink error: its qualified name and its parameters as text
    /// (strings as they are, numbers and booleans as written, nested values as JSON).
    case remote(name: String, parameters: [String: String])
    /// The reply could not be read: broken framing, a reply that does not decode, a connection
    /// closed mid-call.
    case protocolError(String)
}

/// Parameters of the methods that take none: encodes as `{}`.
struct NoParameters: Encodable {}
