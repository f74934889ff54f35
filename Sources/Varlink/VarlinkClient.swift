#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A blocking Varlink client over one AF_UNIX connection; calls are made one after the other.
///
/// Not thread-safe: one thread uses a client at a time. After a transport or protocol failure
/// the connection is closed and later calls throw ``VarlinkClientError/connectionClosed``.
public final class VarlinkClient {
    public let socketPath: String
    private var connection: UnixStreamConnection?
    private var frames: VarlinkFrameDecoder
    /// Messages received but not yet consumed (a read can complete several).
    private var pending: [[UInt8]] = []
    private var readBuffer = [UInt8](repeating: 0, count: 64 * 1024)

    /// Connects to the service at `socketPath`.
    /// - Parameters:
    ///   - timeout: bounds connecting and each read and write; nil waits forever (for streams
    ///     such as `Subscribe` that may stay quiet).
    ///   - maxReplySize: the largest reply accepted, in bytes.
    public init(
        socketPath: String, timeout: Duration? = nil, maxReplySize: Int = 16 * 1024 * 1024
    ) throws(VarlinkClientError) {
        self.socketPath = socketPath
        self.connection = try UnixStreamConnection(path: socketPath, timeout: timeout)
        self.frames = VarlinkFrameDecoder(maxMessageSize: maxReplySize)
    }

    init(connection: UnixStreamConnection, socketPath: String, maxReplySize: Int = 16 * 1024 * 1024) {
        self.socketPath = socketPath
        self.connection = connection
        self.frames = VarlinkFrameDecoder(maxMessageSize: maxReplySize)
    }

    /// Calls `method` and returns its reply; a Varlink error reply is thrown as
    /// ``VarlinkClientError/remote(name:parameters:)``.
    public func call(
        _ method: String, parameters: [String: JSONValue] = [:]
    ) throws(VarlinkClientError) -> VarlinkReply {
        try send(VarlinkCall(method: method, parameters: parameters))
        let reply = try receive()
        guard !reply.continues else {
            close()
            throw .protocolViolation("reply to \(method) says it continues, but the call did not ask for more")
        }
        return reply
    }

    /// Calls `method` with `more` and hands each reply to `onReply`, returning after the last
    /// (the first without `continues: true`). If `onReply` throws, the connection is closed,
    /// since the rest of the stream would otherwise be read as replies to later calls.
    public func callMore(
        _ method: String, parameters: [String: JSONValue] = [:], onReply: (VarlinkReply) throws -> Void
    ) throws {
        try send(VarlinkCall(method: method, parameters: parameters, more: true))
        while true {
            let reply = try receive()
            do {
                try onReply(reply)
            } catch {
                close()
                throw error
            }
            if !reply.continues { return }
        }
    }

    /// Sends a `oneway` call: the service sends no reply.
    public func callOneway(_ method: String, parameters: [String: JSONValue] = [:]) throws(VarlinkClientError) {
        try send(VarlinkCall(method: method, parameters: parameters, oneway: true))
    }

    /// Closes the connection; later calls throw ``VarlinkClientError/connectionClosed``.
    public func close() {
        connection = nil
        pending = []
    }

    private func send(_ call: VarlinkCall) throws(VarlinkClientError) {
        guard let connection else { throw .connectionClosed }
        do {
            try connection.writeAll(call.encodeFrame())
        } catch {
            close()
            throw error
        }
    }

    /// The next reply; error replies are thrown.
    private func receive() throws(VarlinkClientError) -> VarlinkReply {
        let frame: [UInt8]
        do {
            frame = try nextFrame()
        } catch {
            close()
            throw error
        }
        let reply: VarlinkReply
        do {
            reply = try VarlinkReply(frame: frame)
        } catch {
            close()
            throw .protocolViolation(error.description)
        }
        if let name = reply.error {
            throw .remote(name: name, parameters: reply.parameters)
        }
        return reply
    }

    private func nextFrame() throws(VarlinkClientError) -> [UInt8] {
        guard let connection else { throw .connectionClosed }
        while pending.isEmpty {
            let count = try connection.read(into: &readBuffer)
            guard count > 0 else { throw .connectionClosed }
            do {
                pending = try frames.feed(readBuffer[..<count])
            } catch {
                throw .protocolViolation(error.description)
            }
        }
        return pending.removeFirst()
    }
}

// MARK: - Typed calls

extension VarlinkClient {
    /// Calls `method` with `parameters` encoded by `encoder` and decodes the reply with `decoder`.
    public func call<Parameters: Encodable, Reply: Decodable>(
        _ method: String, parameters: Parameters, returning: Reply.Type,
        encoder: JSONEncoder = JSONEncoder(), decoder: JSONDecoder = JSONDecoder()
    ) throws(VarlinkClientError) -> Reply {
        let reply = try call(method, parameters: try Self.encode(parameters, for: method, with: encoder))
        return try Self.decode(Reply.self, from: reply, of: method, with: decoder)
    }

    /// Calls `method` without parameters and decodes the reply with `decoder`.
    public func call<Reply: Decodable>(
        _ method: String, returning: Reply.Type, decoder: JSONDecoder = JSONDecoder()
    ) throws(VarlinkClientError) -> Reply {
        let reply = try call(method)
        return try Self.decode(Reply.self, from: reply, of: method, with: decoder)
    }

    /// Calls `method` with `more`, handing each decoded reply and whether more follow to `onReply`.
    public func callMore<Parameters: Encodable, Reply: Decodable>(
        _ method: String, parameters: Parameters, returning: Reply.Type,
        encoder: JSONEncoder = JSONEncoder(), decoder: JSONDecoder = JSONDecoder(),
        onReply: (Reply, _ continues: Bool) throws -> Void
    ) throws {
        let encoded = try Self.encode(parameters, for: method, with: encoder)
        try callMore(method, parameters: encoded) { reply in
            try onReply(try Self.decode(Reply.self, from: reply, of: method, with: decoder), reply.continues)
        }
    }

    private static func encode(
        _ parameters: some Encodable, for method: String, with encoder: JSONEncoder
    ) throws(VarlinkClientError) -> [String: JSONValue] {
        do {
            return try JSONValue.object(encoding: parameters, with: encoder)
        } catch {
            throw .typeMismatch("cannot encode the parameters of \(method): \(error)")
        }
    }

    private static func decode<Reply: Decodable>(
        _ type: Reply.Type, from reply: VarlinkReply, of method: String, with decoder: JSONDecoder
    ) throws(VarlinkClientError) -> Reply {
        do {
            return try JSONValue.decode(type, from: reply.parameters, with: decoder)
        } catch {
            throw .typeMismatch("cannot decode the reply of \(method) as \(Reply.self): \(error)")
        }
    }
}
