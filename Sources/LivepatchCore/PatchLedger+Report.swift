import FoundationEssentials
import LivepatchAPI

extension PatchLedger {
    /// The wire view of one record.
    public func patch(_ name: String, blockingTasks: [BlockingTask] = []) -> Patch? {
        records[name].map { patch($0, blockingTasks: blockingTasks) }
    }

    /// The wire view of a record as it was, e.g. at one transition of several in a row;
    /// `stacking` when many are shown at once (``stacking``).
    public func patch(_ record: PatchRecord, blockingTasks: [BlockingTask] = [], stacking: Stacking? = nil) -> Patch {
        let d = record.descriptor
        var reason = record.reason
        if let refused = record.refusedArrival {
            reason = PatchReason(refused.code, "this version stays; a bundle that arrived was refused: \(refused.message)")
        } else if let upgrade = record.heldUpgrade {
            reason = PatchReason(
                .upgradeWaits, "version \(upgrade.version) arrived and waits: revert this version to apply it, or ship it as a replace patch")
        }
        return Patch(
            name: d.name, version: d.version, sha256: d.sha256, state: record.state, reason: reason?.message,
            reasonCode: reason?.code.rawValue,
            replace: d.replace, kernels: d.kernels, fixes: d.fixes, since: RFC3339.string(from: record.since),
            description: d.description, desired: record.desired, functions: d.functions,
            blockingTasks: record.state.isInTransition ? blockingTasks : [],
            stackedBelow: (stacking ?? self.stacking).above(record))
    }

    /// The `STATUS=` line and what makes `lpclient status` exit 1.
    public func summary(policy: Policy, kernel: KernelSupport, now: Date) -> (line: String, problems: [String]) {
        let counts = counts()
        let parts = PatchState.allCases.compactMap { state in counts[state.rawValue].map { "\($0) \(state.rawValue)" } }
        var line = parts.isEmpty ? "no patches" : parts.joined(separator: ", ")
        if let unsupported = kernel.unsupportedReason { line += "; nothing can be applied: \(unsupported)" }

        var problems: [String] = []
        for record in recordsByName {
            let reason = record.reason.map { ": \($0.message)" } ?? ""
            switch record.state {
            case .failed, .rejected, .quarantined:
                problems.append("\(record.name) \(record.state.rawValue)\(reason)")
            case _ where record.refusedArrival != nil:
                problems.append("\(record.name): a bundle that arrived was refused: \(record.refusedArrival?.message ?? "")")
            case .applied where record.descriptor.notAfter.map { $0 <= now } == true:
                let notAfter = record.descriptor.notAfter.map(RFC3339.string(from:)) ?? ""
                problems.append("\(record.name) expired at \(notAfter) and is still applied (not reverted); ship a newer bundle")
            case .pending where now >= record.since + policy.settleTimeout:
                problems.append("\(record.name) pending for longer than settle_timeout\(reason)")
            case .applying, .reverting:
                let started = record.transitionStarted ?? record.since
                if now >= started + policy.transitionTimeout {
                    problems.append("\(record.name) \(record.state.rawValue) for longer than transition_timeout")
                }
            default:
                break
            }
        }
        return (line, problems)
    }

    public func counts() -> [String: Int] {
        var counts: [String: Int] = [:]
        for record in records.values { counts[record.state.rawValue, default: 0] += 1 }
        return counts
    }
}
