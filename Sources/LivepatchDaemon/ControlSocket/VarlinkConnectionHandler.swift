import Logging
import NIOCore
import Synchronization
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
final class VarlinkConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = VarlinkInbound
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var frames: VarlinkFrameDecoder
    private let immediate: @Sendable (VarlinkCall) -> VarlinkReply.Encoded?
    private let calls: CallsInFlight
    private let draining: @Sendable () -> Bool
    private let partialMessageTimeout: TimeAmount
    private let writeStallTimeout: TimeAmount
    private let logger: Logger
    private var failed = false
    private var partialMessageTimer: Scheduled<Void>?
    private var writeStallTimer: Scheduled<Void>?

    /// `immediate` answers the calls it can at once (``VarlinkRequestHandler/immediateReply(to:)``);
    /// `calls` counts those passed on and not yet answered; `draining` says graceful shutdown began.
    init(
        limits: VarlinkServer.Limits, logger: Logger, calls: CallsInFlight,
        immediate: @escaping @Sendable (VarlinkCall) -> VarlinkReply.Encoded?, draining: @escaping @Sendable () -> Bool
    ) {
        self.frames = VarlinkFrameDecoder(maxMessageSize: limits.maxMessageSize)
        self.calls = calls
        self.immediate = immediate
        self.draining = draining
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
        var answered = false
        defer { if answered { context.flush() } }
        for message in messages {
            do {
                let call = try VarlinkCall(frame: message)
                if let reply = immediateReply(to: call, context: context) {
                    calls.answeredAtOnce()
                    context.write(Self.wrapOutboundOut(ByteBuffer(bytes: reply.frame)), promise: nil)
                    answered = true
                    continue
                }
                calls.passedOn()
                context.fireChannelRead(Self.wrapInboundOut(.call(call)))
            } catch {
                reject(context: context, field: error.field, reason: error.description)
                return
            }
        }
        updatePartialMessageTimer(context: context)
    }

    /// Only with nothing in progress: replies go out in call order, and a reply that the call
    /// loop handed to the channel is written before any reply given here (see ``CallsInFlight``).
    /// Only while writable: a client that does not read gets the call loop's backpressure.
    /// Not while draining: there the call loop closes the connection once it is answered.
    private func immediateReply(to call: VarlinkCall, context: ChannelHandlerContext) -> VarlinkReply.Encoded? {
        guard calls.none, !call.more, !call.oneway, !call.upgrade, context.channel.isWritable, !draining() else { return nil }
        return immediate(call)
    }

    /// At debug, each reply of the call loop is logged when the event loop takes it and when it
    /// is on the socket, so a reply a client waits for in vain can be placed: never taken from
    /// the call loop, taken but not sent, or sent.
    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard logger.logLevel <= .debug else {
            context.write(data, promise: promise)
            return
        }
        let bytes = Self.unwrapOutboundIn(data).readableBytes
        let connection = context.channel.connectionID
        logger.debug("control socket reply taken by the event loop", metadata: ["bytes": "\(bytes)", "connection": "\(connection)"])
        let sent = promise ?? context.eventLoop.makePromise()
        sent.futureResult.whenComplete { [logger] result in
            switch result {
            case .success:
                logger.debug("control socket reply sent", metadata: ["bytes": "\(bytes)", "connection": "\(connection)"])
            case .failure(let error):
                logger.debug("control socket reply not sent", metadata: ["error": "\(error)", "connection": "\(connection)"])
            }
        }
        context.write(data, promise: sent)
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

/// The calls of one connection passed on to its call loop and not yet answered, and whether
/// the handler answered any itself.
///
/// The call loop counts an answered call down on the connection's event loop, after it handed
/// the reply to the channel's writer: the writer hands it to the channel with a task queued on
/// that loop before, so once the count is zero every earlier reply is in the channel, ahead of
/// a reply the handler writes itself. A call left unanswered (the connection closing) is never
/// counted down.
final class CallsInFlight: Sendable {
    private let count = Atomic<Int>(0)
    private let answeredAny = Atomic<Bool>(false)

    var none: Bool { count.load(ordering: .acquiring) == 0 }

    /// The handler answered a call itself: graceful shutdown closes the connection at once, as
    /// it does one between calls, rather than wait for a first call. (A reply given just as the
    /// drain begins can be missed by it; that connection is closed at the drain's deadline.)
    var anyAnsweredAtOnce: Bool { answeredAny.load(ordering: .sequentiallyConsistent) }

    func passedOn() { count.add(1, ordering: .releasing) }

    func answeredAtOnce() { answeredAny.store(true, ordering: .sequentiallyConsistent) }

    func answered(on eventLoop: any EventLoop) {
        eventLoop.execute { [self] in count.subtract(1, ordering: .releasing) }
    }
}

extension Channel {
    /// Names the connection in the log, so the lines of one connection can be told apart.
    var connectionID: String { "\(ObjectIdentifier(self).hashValue)" }
}
