import Foundation
import LivepatchAPI
import Varlink

/// The wire adapter in front of the engine: decodes `io.livepatchd` calls, checks who may
/// make them, and encodes replies and errors.
struct ControlService: VarlinkRequestHandler {
    let engine: PatchEngine
    private static let encoder = LivepatchInterface.makeEncoder()
    private static let decoder = LivepatchInterface.makeDecoder()

    func handle(_ call: VarlinkCall, peer: PeerCredentials, replies: VarlinkReplySink) async {
        guard let method = LivepatchInterface.Method(rawValue: call.member) else {
            await replies.send(
                VarlinkReply(parameters: ["method": .string(call.method)], error: VarlinkErrorName.methodNotFound))
            return
        }
        if method.requiresRoot && peer.uid != 0 {
            await send(LivepatchError.permissionDenied(method: method.rawValue), to: replies)
            return
        }
        do {
            try await dispatch(method, call, replies)
        } catch let error as LivepatchError {
            await send(error, to: replies)
        } catch let error as ParameterError {
            await replies.send(VarlinkReply(parameters: ["parameter": .string(error.name)], error: VarlinkErrorName.invalidParameter))
        } catch {
            await send(LivepatchError(.failed, ["name": "", "reason": "\(error)"]), to: replies)
        }
    }

    private func dispatch(_ method: LivepatchInterface.Method, _ call: VarlinkCall, _ replies: VarlinkReplySink) async throws {
        switch method {
        case .getStatus:
            try await reply(await engine.status(), to: replies)
        case .listPatches:
            try await reply(PatchListReply(patches: await engine.list()), to: replies)
        case .getPatch:
            try await reply(PatchReply(patch: try await engine.patch(name(of: call))), to: replies)
        case .apply:
            let patch = try await engine.apply(try name(of: call), progress: progress(call, replies))
            try await reply(PatchReply(patch: patch), to: replies)
        case .revert:
            let patch = try await engine.revert(try name(of: call), progress: progress(call, replies))
            try await reply(PatchReply(patch: patch), to: replies)
        case .rescan:
            try await reply(PatchListReply(patches: await engine.rescan()), to: replies)
        case .getHistory:
            try await reply(HistoryReply(entries: await engine.history()), to: replies)
        case .subscribe:
            guard call.more else {
                await replies.send(VarlinkReply(error: VarlinkErrorName.expectedMore))
                return
            }
            for await change in await engine.subscribe() {
                guard await replies.send(VarlinkReply(parameters: try parameters(change), continues: true)) else { return }
            }
        }
    }

    /// With `more`, every state change of the patch is streamed before the final reply.
    private func progress(_ call: VarlinkCall, _ replies: VarlinkReplySink) -> @Sendable (SubscribeReply) async -> Void {
        guard call.more else { return { _ in } }
        return { change in
            guard let parameters = try? Self.object(PatchReply(patch: change.patch)) else { return }
            await replies.send(VarlinkReply(parameters: parameters, continues: true))
        }
    }

    private struct ParameterError: Error { var name: String }

    private func name(of call: VarlinkCall) throws -> String {
        guard let name = call.parameters["name"]?.stringValue else { throw ParameterError(name: "name") }
        return name
    }

    private func reply(_ value: some Encodable, to replies: VarlinkReplySink) async throws {
        await replies.send(VarlinkReply(parameters: try Self.object(value)))
    }

    private func parameters(_ value: some Encodable) throws -> [String: JSONValue] { try Self.object(value) }

    private static func object(_ value: some Encodable) throws -> [String: JSONValue] {
        try JSONValue.object(encoding: value, with: encoder)
    }

    private func send(_ error: LivepatchError, to replies: VarlinkReplySink) async {
        await replies.send(
            VarlinkReply(parameters: error.parameters.mapValues { .string($0) }, error: error.code.varlinkName.rawValue))
    }
}
