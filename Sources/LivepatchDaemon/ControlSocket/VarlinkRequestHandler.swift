import FoundationEssentials
import Glibc
import Varlink

/// Answers the calls of the interfaces a ``VarlinkServer`` serves (not `org.varlink.service`,
/// which the server answers itself).
///
/// Calls on one connection are handled one after the other, in order; connections are handled
/// concurrently. The handler must send exactly one final reply (one without `continues`) for
/// every call, errors included; for `oneway` calls the sink discards replies. When the client
/// disconnects, the task running `handle` is cancelled.
public protocol VarlinkRequestHandler: Sendable {
    func handle(_ call: VarlinkCall, peer: PeerCredentials, replies: any VarlinkReplySink) async

    /// The final reply to `call` if it is at hand now, without waiting for anything: the
    /// connection's event loop sends it at once, with no task and no hop to the cooperative
    /// pool (most of what a call costs). Asked for calls that expect exactly one reply, on a
    /// connection with no call in progress, before the peer is known: answer only what every
    /// peer may ask. nil sends the call to ``handle(_:peer:replies:)``.
    /// Runs on an event loop: it must not block or wait.
    func immediateReply(to call: VarlinkCall) -> VarlinkReply.Encoded?
}

extension VarlinkRequestHandler {
    public func immediateReply(to call: VarlinkCall) -> VarlinkReply.Encoded? { nil }
}

/// Where a handler sends the replies to one call.
public protocol VarlinkReplySink: Sendable {
    /// Sends `reply`. Returns false when it could not be delivered: the client is gone, or
    /// the call's final reply was already sent; a streaming handler stops then.
    ///
    /// Suspends while the client does not read (backpressure); a client that stays that way
    /// past the server's write-stall limit is disconnected and this returns false.
    /// A reply to a call without `more`, and any error reply, is final whatever its `continues`.
    @discardableResult
    func send(_ reply: VarlinkReply) async -> Bool

    /// Sends a final reply encoded beforehand; returns as ``send(_:)-(VarlinkReply)`` does.
    @discardableResult
    func send(_ reply: VarlinkReply.Encoded) async -> Bool

    /// The client is still connected.
    var isConnected: Bool { get }
}

extension VarlinkReplySink {
    /// For sinks that only know ``VarlinkReply``: the bytes are read back into one.
    @discardableResult
    public func send(_ reply: VarlinkReply.Encoded) async -> Bool {
        guard let decoded = try? VarlinkReply(frame: reply.frame) else { return false }
        return await send(decoded)
    }

    /// Sends `parameters` encoded with `encoder` (e.g. ``LivepatchInterface/makeEncoder()``).
    @discardableResult
    public func send(
        _ parameters: some Encodable, encoder: JSONEncoder, continues: Bool = false
    ) async -> Bool {
        await send(VarlinkReply(encoding: parameters, with: encoder, continues: continues))
    }
}

extension VarlinkReply {
    /// A reply carrying `parameters` encoded with `encoder`. An encoding failure is a bug in
    /// the daemon; the client gets `MethodNotImplemented` saying so rather than nothing.
    public init(encoding parameters: some Encodable, with encoder: JSONEncoder, continues: Bool = false) {
        do {
            self.init(parameters: try JSONValue.object(encoding: parameters, with: encoder), continues: continues)
        } catch {
            let detail = JSONValue.string("reply could not be encoded: \(error)")
            self = .error(.methodNotImplemented, parameters: ["method": detail])
        }
    }
}
