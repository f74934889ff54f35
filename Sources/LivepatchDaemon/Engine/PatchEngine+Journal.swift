import LivepatchAPI
import LivepatchCore
import Logging

extension PatchEngine {
    /// One structured journal entry per state change, with the LIVEPATCH_* fields.
    func log(_ change: StateChange) {
        let record = change.record
        var metadata: Logger.Metadata = [
            LivepatchField.name: "\(record.name)",
            LivepatchField.state: "\(record.state.rawValue)",
            LivepatchField.kernel: "\(record.descriptor.release ?? backend.release)",
        ]
        if !record.descriptor.sha256.isEmpty { metadata[LivepatchField.sha256] = "\(record.descriptor.sha256)" }
        if !record.descriptor.version.isEmpty { metadata[LivepatchField.version] = "\(record.descriptor.version)" }
        if let reason = record.reason {
            metadata[LivepatchField.reason] = "\(reason.message)"
            metadata[LivepatchField.reasonCode] = "\(reason.code.rawValue)"
            if !reason.kernelMessages.isEmpty {
                metadata[LivepatchField.kernelMessage] = "\(reason.kernelMessages.joined(separator: "\n"))"
            }
        }
        let version = record.descriptor.version.isEmpty ? "" : " \(record.descriptor.version)"
        let because = record.reason.map { ": \($0.message)" } ?? ""
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
        case .halted: .patchHalted
        case .quarantined: .patchQuarantined
        }
    }

    static func level(_ state: PatchState) -> Logger.Level {
        switch state {
        case .failed, .rejected, .quarantined: .error
        case .applied, .reverted, .superseded, .foreign, .halted: .notice
        default: .info
        }
    }

    /// The machine's decisions worth telling the operator.
    func log(_ note: PatchMachine.Note) {
        func patch(_ name: String) -> Logger.Metadata { [LivepatchField.name: "\(name)"] }
        switch note {
        case .willSupersede(let name, let others):
            logger.notice("\(name) is a replace patch: it will supersede \(others.joined(separator: ", "))", metadata: patch(name))
        case .waitingForTransition(let name, let other):
            logger.info("\(name): waiting for the transition of \(other) to finish before loading", metadata: patch(name))
        case .blocked(let name, let state, let tasks):
            logger.event(
                .transitionBlocked, "\(name): transition blocked by \(BlockingTask.describe(tasks))", level: .info,
                metadata: [LivepatchField.name: "\(name)", LivepatchField.state: "\(state.rawValue)"])
        case .forcing(let name, let seconds, let tasks):
            let blocked = tasks.isEmpty ? "" : " (blocked by \(BlockingTask.describe(tasks)))"
            logger.warning(
                "\(name): transition still running after \(seconds)s\(blocked); forcing it as force_after_timeout allows",
                metadata: patch(name))
        case .rollingBack(let name, let reason):
            logger.warning("\(name): \(reason)", metadata: patch(name))
        case .stillWaiting(let name, let what, let seconds, let tasks):
            let blocked = tasks.isEmpty ? "" : "; blocked by \(BlockingTask.describe(tasks))"
            logger.warning("\(name): \(what) still running after \(seconds)s\(blocked); still waiting", metadata: patch(name))
        case .forceFailed(let name, let detail):
            logger.error("\(name): force failed: \(detail)", metadata: patch(name))
        case .disableFailed(let name, let detail):
            logger.error("\(name): cannot disable: \(detail)", metadata: patch(name))
        case .moduleStaysLoaded(let name, let detail):
            logger.warning("\(name): \(detail)", metadata: patch(name))
        case .stillLeaving(let names):
            logger.warning(
                "\(names.joined(separator: ", ")): still leaving the kernel after 30s; their modules stay loaded until the next rescan")
        case .kernelUnreadable(let detail, let retry):
            logger.error("cannot read the kernel's livepatch state: \(detail); nothing is decided until it reads again (retrying in \(retry)s)")
        case .kernelReadable:
            logger.notice("the kernel's livepatch state can be read again")
        case .manifestRemoved(let name):
            logger.info("\(name): its manifest left the patch directory", metadata: patch(name))
        case .disabledOutside(let name):
            logger.warning(
                "\(name) was disabled outside livepatchd (echo 0 > enabled); it is not applied again until an operator runs lpclient apply \(name)",
                metadata: patch(name))
        case .notRecorded(let name, let detail):
            logger.error("\(name): not loaded: \(detail), and a load must be recorded first; retrying in 10s", metadata: patch(name))
        case .arrivalRefused(let name, let reason):
            var metadata = patch(name)
            metadata[LivepatchField.reason] = "\(reason.message)"
            metadata[LivepatchField.reasonCode] = "\(reason.code.rawValue)"
            logger.event(
                .patchRejected, "\(name): the applied version stays; a bundle that arrived was refused: \(reason.message)",
                level: .error, metadata: metadata)
        case .haltReverts(let name, let file):
            logger.warning("\(name): \(file) halts its rollout and asks for a revert; reverting it", metadata: patch(name))
        case .haltProblems(let problems):
            for problem in problems { logger.error("\(problem)") }
        }
    }
}
