#if canImport(Glibc)
import Glibc
#endif
import LivepatchAPI
import Varlink

/// Opens the connection every command uses; the one place that knows the transport.
enum DaemonConnector {
    static func connect(socket: String, timeout: Duration?) throws -> any DaemonConnection {
        do {
            return VarlinkDaemonConnection(client: try VarlinkClient(socketPath: socket, timeout: timeout))
        } catch {
            throw ClientError(error, socket: socket)
        }
    }
}

/// ``DaemonConnection`` over the Varlink client, with the `io.livepatchd` encoder and decoder
/// made for the calls that use them (`status` needs neither).
struct VarlinkDaemonConnection: DaemonConnection {
    let client: VarlinkClient

    func call<P: Encodable, R: Decodable>(_ method: LivepatchInterface.Method, _ parameters: P) throws -> R {
        do {
            return try client.call(
                method.qualifiedName, parameters: parameters, returning: R.self, encoder: LivepatchInterface.makeEncoder(),
                decoder: LivepatchInterface.makeDecoder())
        } catch {
            throw ClientError(error, socket: client.socketPath)
        }
    }

    func callForJSON(_ method: LivepatchInterface.Method) throws -> [UInt8] {
        JSONValue.object(try parameters(of: method)).serialized()
    }

    func status() throws -> StatusReply {
        let parameters = try parameters(of: .getStatus)
        return StatusReply(status: try Status(reply: parameters), parameters: parameters)
    }

    /// The reply's parameters as parsed, `method` called with none.
    private func parameters(of method: LivepatchInterface.Method) throws(ClientError) -> [String: JSONValue] {
        do {
            return try client.call(method.qualifiedName).parameters
        } catch {
            throw ClientError(error, socket: client.socketPath)
        }
    }

    func stream<P: Encodable, R: Decodable>(
        _ method: LivepatchInterface.Method, _ parameters: P, _ each: (R) throws -> Void
    ) throws {
        do {
            try client.callMore(
                method.qualifiedName, parameters: parameters, returning: R.self, encoder: LivepatchInterface.makeEncoder(),
                decoder: LivepatchInterface.makeDecoder()
            ) { reply, _ in try each(reply) }
        } catch let error as VarlinkClientError {
            throw ClientError(error, socket: client.socketPath)
        }
    }
}

extension ClientError {
    init(_ error: VarlinkClientError, socket: String) {
        switch error {
        case .unreachable(_, let errno):
            self = .unreachable(socket: socket, errno: errno)
        case .permissionDenied:
            self = .permissionDenied(socket: socket, errno: EACCES)
        case .remote(let name, let parameters):
            self = .remote(name: name, parameters: parameters.mapValues(Self.text))
        default:
            self = .protocolError(error.description)
        }
    }

    private static func text(_ value: JSONValue) -> String {
        switch value {
        case .string(let text): text
        case .int(let number): String(number)
        case .double(let number): String(number)
        case .bool(let flag): String(flag)
        case .null, .array, .object: String(decoding: value.serialized(), as: UTF8.self)
        }
    }
}
