import Logging
import NIOCore
import Varlink

extension VarlinkServer {
    /// Serves one connection: its calls one after the other, in order (Varlink semantics).
    /// When the client goes away the call in progress is cancelled, so a streaming handler
    /// stops waiting for events nobody will read.
    func serve(_ connection: Connection) async {
        let logger = {
            var logger = self.logger
            logger[metadataKey: "peer_pid"] = "\(connection.peer.pid)"
            logger[metadataKey: "peer_uid"] = "\(connection.peer.uid)"
            logger[metadataKey: "connection"] = "\(connection.channel.channel.connectionID)"
            return logger
        }()
        logger.debug("control socket client connected")
        let channel = connection.channel.channel
        let peer = connection.peer
        await drain.opened(channel, calls: connection.calls)
        defer { Task { await drain.closed(channel) } }
        do {
            try await connection.channel.executeThenClose { inbound, outbound in
                let calls = Task {
                    await self.handleCalls(
                        inbound, outbound: outbound, channel: channel, peer: peer, inFlight: connection.calls, logger: logger)
                }
                channel.closeFuture.whenComplete { _ in calls.cancel() }
                await withTaskCancellationHandler {
                    await calls.value
                } onCancel: {
                    calls.cancel()
                }
            }
        } catch {
            logger.debug("control socket connection ended with an error", metadata: ["error": "\(error)"])
        }
        logger.debug("control socket client disconnected")
    }

    private func handleCalls(
        _ inbound: NIOAsyncChannelInboundStream<VarlinkInbound>,
        outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>,
        channel: any Channel,
        peer: PeerCredentials,
        inFlight: CallsInFlight,
        logger: Logger
    ) async {
        do {
            for try await event in inbound {
                switch event {
                case .call(let call):
                    await drain.callStarted(on: channel, more: call.more)
                    let replies = CallReplySink(call: call, channel: channel, outbound: outbound)
                    await dispatch(call, peer: peer, replies: replies, logger: logger)
                    let outcome = await replies.outcome
                    // Said, so a client that waits in vain can be told from a reply that never left.
                    if let error = outcome.writeError {
                        logger.debug("control socket reply not written", metadata: ["method": "\(call.method)", "error": "\(error)"])
                    } else {
                        logger.debug("control socket call answered", metadata: ["method": "\(call.method)"])
                    }
                    // Closing: the call may be unanswered, so it stays in flight and nothing is
                    // answered at once after it.
                    if Task.isCancelled { return }
                    if !call.oneway, !outcome.finished {
                        logger.error("handler returned without a final reply", metadata: ["method": "\(call.method)"])
                        await replies.send(.methodNotImplemented(call.method))
                    }
                    inFlight.answered(on: channel.eventLoop)
                    // Shutting down: answered, so the client loses nothing when it closes.
                    if await drain.callFinished(on: channel) { return }
                case .invalid(let reply, let reason):
                    logger.notice("control socket client sent an invalid message; disconnecting", metadata: [
                        "reason": "\(reason)"
                    ])
                    try await outbound.write(ByteBuffer(bytes: reply.encodeFrame()))
                    return
                }
            }
        } catch {
            logger.debug("control socket connection failed", metadata: ["error": "\(error)"])
        }
    }

    private func dispatch(_ call: VarlinkCall, peer: PeerCredentials, replies: CallReplySink, logger: Logger) async {
        let interface = call.interface
        if interface == VarlinkService.interfaceName {
            await replies.send(serviceReply(to: call))
        } else if interfaces.contains(where: { $0.name == interface }) {
            logger.debug("control socket call", metadata: ["method": "\(call.method)", "more": "\(call.more)"])
            await handler.handle(call, peer: peer, replies: replies)
        } else {
            await replies.send(.interfaceNotFound(interface))
        }
    }

    /// `org.varlink.service`, answered by the server so generic Varlink clients can
    /// introspect the daemon.
    private func serviceReply(to call: VarlinkCall) -> VarlinkReply {
        switch call.method {
        case VarlinkService.getInfo:
            return VarlinkReply(parameters: info)
        case VarlinkService.getInterfaceDescription:
            guard case .string(let name)? = call.parameters["interface"] else {
                return .invalidParameter("interface", reason: "\"interface\" must be a string naming an interface")
            }
            if name == VarlinkService.interfaceName {
                return VarlinkReply(parameters: ["description": .string(VarlinkService.description)])
            }
            guard let served = interfaces.first(where: { $0.name == name }) else { return .interfaceNotFound(name) }
            return VarlinkReply(parameters: ["description": .string(served.description)])
        default:
            return .methodNotFound(call.method)
        }
    }
}
