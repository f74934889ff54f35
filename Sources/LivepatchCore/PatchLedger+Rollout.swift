import FoundationEssentials
import LivepatchAPI

/// The ledger's changes for rollout safety: sequences seen, halts, quarantine and the marks it
/// is decided from. Only ``PatchMachine`` calls them.
extension PatchLedger {
    /// A lower `sequence` than already verified for the name is an older bundle replayed.
    func downgrade(_ descriptor: PatchDescriptor) -> PatchReason? {
        guard let sequence = descriptor.sequence, let highest = highestSequence[descriptor.name], sequence < highest else {
            return nil
        }
        return PatchReason(
            .downgrade,
            "downgrade refused: sequence \(sequence) is lower than \(highest), already verified for \(descriptor.name) "
                + "(an older bundle replayed?); ship a bundle with sequence \(highest) or higher")
    }

    mutating func noteSequence(_ descriptor: PatchDescriptor) {
        guard let sequence = descriptor.sequence, sequence > highestSequence[descriptor.name] ?? Int.min else { return }
        highestSequence[descriptor.name] = sequence
    }

    /// Stopped by a halt file: no longer wanted, not applied until the halt goes.
    mutating func halt(_ name: String, reason: PatchReason, now: Date) -> StateChange {
        update(name) {
            $0.desired = false
            $0.revertRequested = false
        }
        return move(name, to: .halted, reason: reason, now: now)
    }

    /// Its halt file went: staged again, and applied when its wave comes.
    mutating func resume(_ name: String, now: Date) -> StateChange {
        move(name, to: .staged, reason: nil, now: now)
    }

    /// A halt that asks for it reverts the patch where it is applied.
    mutating func stopWanting(_ name: String) {
        update(name) { $0.desired = false }
    }

    /// A boot ended soon after this patch was enabled, without a clean stop of the daemon.
    mutating func quarantine(_ name: String, reason: PatchReason, now: Date) -> StateChange {
        update(name) {
            $0.desired = false
            $0.lastEnable = nil
            $0.transitionStarted = nil
            $0.rollbackReason = nil
        }
        return move(name, to: .quarantined, reason: reason, now: now)
    }

    /// The enable is no longer a suspect: the window passed in its boot, or the daemon stopped
    /// cleanly after it.
    mutating func enableSurvived(_ name: String) {
        update(name) { $0.lastEnable?.survived = true }
    }

    mutating func cleanStop(bootID: String, now: Date) {
        lastCleanStop = CleanStop(bootID: bootID, at: now)
    }

    /// Expired before its turn came: never applied by itself.
    mutating func expire(_ name: String, reason: PatchReason, now: Date) -> StateChange {
        move(name, to: .rejected, reason: reason, now: now)
    }
}
