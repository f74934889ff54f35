import Logging
import NIOCore
import Varlink

/// What the framing handler passes on to a connection's call loop, in arrival order.
enum VarlinkInbound: Sendable {
    case call(VarlinkCall)
    /// The client broke the protocol: send this error after the calls before it, then disconnect.
    case invalid(VarlinkReply, reason: String)
}

/// Frames the bytes of one connection into calls and enforces the per-connection limits that
/// need the event loop's clock: a message must be complete within `partialMessageTimeout`, and
/// a client that leaves the connection unwritable for `writeStallTimeout` is disconnected.
///
/// After a protocol error the rest of the input is dropped: the error travels in order behind
/// earlier calls, so their replies still go out before the connection closes.
final class VarlinkConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = VarlinkInbound
    typealias OutboundOut = ByteBuffer

    private var frames: VarlinkFrameDecoder
    private let partialMessageTimeout: TimeAmount
    private let writeStallTimeout: TimeAmount
    private let logger: Logger
    private var failed = false
    private var partialMessageTimer: Scheduled<Void>?
    private var writeStallTimer: Scheduled<Void>?

    init(limits: VarlinkServer.Limits, logger: Logger) {
        self.frames = VarlinkFrameDecoder(maxMessageSize: limits.maxMessageSize)
        self.partialMessageTimeout = TimeAmount(limits.partialMessageTimeout)
        self.writeStallTimeout = TimeAmount(limits.writeStallTimeout)
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        let bytes = Self.unwrapInboundIn(data)
        let messages: [[UInt8]]
        do {
            messages = try frames.feed(bytes.readableBytesView)
        } catch {
            reject(context: context, field: "message", reason: error.description)
            return
        }
        for message in messages {
            do {
                let call = try VarlinkCall(frame: message)
                context.fireChannelRead(Self.wrapInboundOut(.call(call)))
            } catch {
                reject(context: context, field: error.field, reason: error.description)
                return
            }
        }
        updatePartialMessageTimer(context: context)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            writeStallTimer?.cancel()
            writeStallTimer = nil
        } else if writeStallTimer == nil {
            let timeout = writeStallTimeout
            let logger = logger
            writeStallTimer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
                logger.notice("control socket client does not read its replies; disconnecting", metadata: [
                    "timeout": "\(timeout)"
                ])
                context.close(promise: nil)
            }
        }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelTimers()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelTimers()
    }

    /// Protocol errors are answered with `org.varlink.service.InvalidParameter`, `parameter`
    /// naming the bad top-level field or `message` for the message as a whole: generic clients
    /// know and show that error, and `org.varlink.service` defines none closer. The extra
    /// `reason` field says what is wrong.
    private func reject(context: ChannelHandlerContext, field: String, reason: String) {
        failed = true
        partialMessageTimer?.cancel()
        partialMessageTimer = nil
        let reply = VarlinkReply.invalidParameter(field, reason: reason)
        context.fireChannelRead(Self.wrapInboundOut(.invalid(reply, reason: reason)))
    }

    /// The timer runs from the first byte of a message to its NUL, so a client that dribbles
    /// a message byte by byte cannot hold a connection open forever; an idle client between
    /// calls holds no timer.
    private func updatePartialMessageTimer(context: ChannelHandlerContext) {
        guard frames.hasPartialMessage else {
            partialMessageTimer?.cancel()
            partialMessageTimer = nil
            return
        }
        guard partialMessageTimer == nil else { return }
        let timeout = partialMessageTimeout
        let logger = logger
        partialMessageTimer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
            let reason = "message not completed within \(timeout) (no terminating NUL)"
            logger.notice("control socket client stalled mid-message; disconnecting", metadata: ["reason": "\(reason)"])
            failed = true
            // Sent directly, ahead of any reply in flight: the connection is closed at once.
            let reply = VarlinkReply.invalidParameter("message", reason: reason)
            context.writeAndFlush(Self.wrapOutboundOut(ByteBuffer(bytes: reply.encodeFrame())), promise: nil)
            context.close(promise: nil)
        }
    }

    private func cancelTimers() {
        partialMessageTimer?.cancel()
        partialMessageTimer = nil
        writeStallTimer?.cancel()
        writeStallTimer = nil
    }
}
