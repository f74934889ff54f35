import FoundationEssentials
import Glibc
import LivepatchAPI
import Varlink

/// The wire adapter in front of the engine: decodes `io.livepatchd` calls, checks who may
/// make them, and encodes replies and errors.
struct ControlService: VarlinkRequestHandler {
    let engine: PatchEngine
    let metrics: PatchMetrics
    private static let encoder = LivepatchInterface.makeEncoder()
    let statusReplies = LastEncodedReply<Status>()
    let listReplies = LastEncodedReply<[Patch]>()

    /// How old a GetStatus reply may be when sent again without asking the engine: what no
    /// engine event announces (the kernel's taint and lockdown, the clock passing a timeout)
    /// shows within this.
    static let statusMaxAge = Duration.seconds(1)

    /// GetStatus, which every peer may call, from the reply last sent while it is fresh.
    func immediateReply(to call: VarlinkCall) -> VarlinkReply.Encoded? {
        guard call.method == LivepatchInterface.Method.getStatus.qualifiedName else { return nil }
        return statusReplies.fresh(events: engine.events.value, maxAge: Self.statusMaxAge)
    }

    func handle(_ call: VarlinkCall, peer: PeerCredentials, replies: VarlinkReplySink) async {
        guard let method = LivepatchInterface.Method(rawValue: call.member) else {
            await replies.send(.error(.methodNotFound, parameters: ["method": .string(call.method)]))
            return
        }
        if method.requiresRoot && peer.uid != 0 {
            await send(LivepatchError.permissionDenied(method: method.rawValue), to: replies)
            return
        }
        do {
            try await dispatch(method, call, replies)
        } catch {
            await send(error, to: replies)
        }
    }

    private func dispatch(
        _ method: LivepatchInterface.Method, _ call: VarlinkCall, _ replies: VarlinkReplySink
    ) async throws(LivepatchError) {
        switch method {
        case .getStatus:
            let (status, events, computed) = await engine.statusWithEvents()
            await replies.send(
                statusReplies.reply(for: status, events: events, computed: computed) {
                    VarlinkReply(encoding: $0, with: Self.encoder).encodedFinal()
                })
        case .listPatches:
            let patches = await engine.list()
            await replies.send(listReplies.reply(for: patches) { encoded(PatchListReply(patches: $0)) })
        case .getPatch:
            await reply(PatchReply(patch: try await engine.patch(try name(of: call))), replies)
        case .apply:
            let patch = try await engine.apply(try name(of: call), progress: progress(call, replies))
            await reply(PatchReply(patch: patch), replies)
        case .revert:
            let patch = try await engine.revert(try name(of: call), progress: progress(call, replies))
            await reply(PatchReply(patch: patch), replies)
        case .rescan:
            await reply(PatchListReply(patches: await engine.rescan()), replies)
        case .getHistory:
            await reply(HistoryReply(entries: await engine.history()), replies)
        case .getMetrics:
            await reply(MetricsReply(text: await metrics.exposition()), replies)
        case .subscribe:
            guard call.more else {
                await replies.send(.error(.expectedMore, parameters: [:]))
                return
            }
            for await change in await engine.subscribe() {
                guard await replies.send(change, encoder: Self.encoder, continues: true) else { return }
            }
        }
    }

    /// With `more`, every state change of the patch is streamed before the final reply.
    private func progress(_ call: VarlinkCall, _ replies: VarlinkReplySink) -> @Sendable (SubscribeReply) async -> Void {
        guard call.more else { return { _ in } }
        return { change in await replies.send(PatchReply(patch: change.patch), encoder: Self.encoder, continues: true) }
    }

    private func name(of call: VarlinkCall) throws(LivepatchError) -> String {
        guard let name = call.parameters["name"]?.stringValue else { throw .invalidParameter("name") }
        return name
    }

    private func reply(_ value: some Encodable, _ replies: VarlinkReplySink) async {
        await replies.send(encoded(value))
    }

    /// The final reply, framed straight from the encoder's bytes.
    private func encoded(_ value: some Encodable) -> VarlinkReply.Encoded {
        do {
            return try VarlinkReply.Encoded(parameters: value, encoder: Self.encoder)
        } catch {
            return VarlinkReply(encoding: value, with: Self.encoder).encodedFinal()  // says why it could not be encoded
        }
    }

    private func send(_ error: LivepatchError, to replies: VarlinkReplySink) async {
        await replies.send(.error(error.code.varlinkName, parameters: error.parameters.mapValues { .string($0) }))
    }
}
