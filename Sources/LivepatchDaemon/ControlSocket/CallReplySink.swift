import NIOCore
import Varlink

/// The ``VarlinkReplySink`` of one call: enforces that the call gets exactly one final reply,
/// and none at all when it is `oneway`.
actor CallReplySink: VarlinkReplySink {
    private let call: VarlinkCall
    private let channel: any Channel
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private var finished = false
    /// Why the last reply could not be handed to the connection, if it could not.
    private var writeError: (any Error)?

    init(call: VarlinkCall, channel: any Channel, outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>) {
        self.call = call
        self.channel = channel
        self.outbound = outbound
    }

    nonisolated var isConnected: Bool { channel.isActive }

    /// Whether the final reply was sent, and why the last reply could not be written if it
    /// could not: read together, in one hop, once the handler has returned.
    var outcome: (finished: Bool, writeError: (any Error)?) { (finished, writeError) }

    @discardableResult
    func send(_ reply: VarlinkReply) async -> Bool {
        guard !finished else { return false }
        var reply = reply
        if !call.more || reply.error != nil { reply.continues = false }
        if !reply.continues { finished = true }
        if call.oneway { return channel.isActive }
        return await write(reply.encodeFrame())
    }

    @discardableResult
    func send(_ reply: VarlinkReply.Encoded) async -> Bool {
        guard !finished else { return false }
        finished = true
        if call.oneway { return channel.isActive }
        return await write(reply.frame)
    }

    private func write(_ frame: [UInt8]) async -> Bool {
        do {
            // Suspends while the channel is unwritable: the client's unread replies stay bounded
            // by the channel's high water mark (Limits.maxPendingOutputBytes).
            try await outbound.write(ByteBuffer(bytes: frame))
            return true
        } catch {
            writeError = error
            return false
        }
    }
}
