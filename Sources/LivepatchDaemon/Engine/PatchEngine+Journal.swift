import LivepatchAPI
import LivepatchCore
import Logging

extension PatchEngine {
    /// One structured journal entry per state change, with the LIVEPATCH_* fields.
    func log(_ transition: Transition) {
        let record = transition.record
        var metadata: Logger.Metadata = [
            LivepatchField.name: "\(record.name)",
            LivepatchField.state: "\(record.state.rawValue)",
            LivepatchField.kernel: "\(record.descriptor.release ?? backend.release)",
        ]
        if !record.descriptor.sha256.isEmpty { metadata[LivepatchField.sha256] = "\(record.descriptor.sha256)" }
        if !record.descriptor.version.isEmpty { metadata[LivepatchField.version] = "\(record.descriptor.version)" }
        if let reason = record.reason { metadata[LivepatchField.reason] = "\(reason)" }
        let version = record.descriptor.version.isEmpty ? "" : " \(record.descriptor.version)"
        let because = record.reason.map { ": \($0)" } ?? ""
        let message: Logger.Message = "\(record.name)\(version) \(record.state.rawValue)\(because)"
        logger.event(Self.eventKind(record.state), message, level: Self.level(record.state), metadata: metadata)
    }

    static func eventKind(_ state: PatchState) -> EventKind {
        switch state {
        case .pending: .patchPending
        case .rejected: .patchRejected
        case .staged: .patchStaged
        case .applying: .patchApplying
        case .applied: .patchApplied
        case .failed: .patchFailed
        case .reverting: .patchReverting
        case .reverted: .patchReverted
        case .superseded: .patchSuperseded
        case .foreign: .patchForeign
        }
    }

    static func level(_ state: PatchState) -> Logger.Level {
        switch state {
        case .failed, .rejected: .error
        case .applied, .reverted, .superseded, .foreign: .notice
        default: .info
        }
    }
}
