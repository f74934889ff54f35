import FoundationEssentials
import LivepatchAPI

/// One state change of one patch, for the journal, the history and `Subscribe`.
public struct StateChange: Sendable, Equatable {
    public var name: String
    public var from: PatchState?
    /// The record as it was right after the change.
    public var record: PatchRecord
    public var to: PatchState { record.state }
}

/// The ledger's changes of state. Only ``PatchMachine`` calls them, each one when it has decided
/// it; each returns what changed, for the history and the journal.
extension PatchLedger {
    /// The module is about to be loaded; it gets the next place in the stacking order, and the
    /// boot it is enabled in is remembered (saved before the load) for quarantine.
    mutating func beginApply(_ name: String, bootID: String? = nil, now: Date) -> StateChange {
        let sequence = nextSequence()
        update(name) {
            $0.desired = true
            $0.enabledSequence = sequence
            $0.transitionStarted = now
            $0.disabledOutside = nil
            $0.lastEnable = bootID.map { EnableMark(bootID: $0, at: now) }
        }
        return move(name, to: .applying, reason: nil, now: now)
    }

    /// The load was not attempted (the state could not be saved first): staged again, still
    /// wanted, so it is tried again.
    mutating func cancelApply(_ name: String, reason: PatchReason, now: Date) -> StateChange {
        update(name) {
            $0.enabledSequence = nil
            $0.transitionStarted = nil
        }
        return move(name, to: .staged, reason: reason, now: now)
    }

    /// The transition finished. A `replace` patch supersedes every other loaded patch.
    mutating func finishApply(_ name: String, functions: [String]?, now: Date) -> [StateChange] {
        update(name) {
            $0.transitionStarted = nil
            if let functions { $0.descriptor.functions = functions }
        }
        var changes = [move(name, to: .applied, reason: nil, now: now)]
        guard records[name]?.descriptor.replace == true else { return changes }
        let others = records.values.filter {
            $0.name != name && ($0.state == .applied || $0.state == .foreign || $0.state == .applying)
        }.map(\.name).sorted()
        for other in others {
            update(other) {
                $0.desired = false
                $0.enabledSequence = nil
            }
            changes.append(move(other, to: .superseded, reason: PatchReason(.replaced, "replaced by \(name)"), now: now))
        }
        return changes
    }

    /// Remembered before the kernel is touched: a restart in the middle of the rollback still
    /// ends `failed`, not retried.
    mutating func beginRollback(_ name: String, reason: PatchReason) {
        update(name) {
            $0.desired = false
            $0.rollbackReason = reason
        }
    }

    /// Load error or transition timeout, rolled back: not retried until asked again. A new version
    /// that waited for this one is staged in its place.
    mutating func failApply(_ name: String, reason: PatchReason, now: Date) -> [StateChange] {
        update(name) {
            $0.rollbackReason = nil
            $0.desired = false
            $0.enabledSequence = nil
            $0.transitionStarted = nil
        }
        return [move(name, to: .failed, reason: reason, now: now)] + stageHeldUpgrade(name, from: .failed, now: now)
    }

    mutating func beginRevert(_ name: String, now: Date) -> StateChange {
        update(name) { $0.transitionStarted = now }
        return move(name, to: .reverting, reason: nil, now: now)
    }

    /// The kernel refused the disable: the patch stays applied, and stays wanted, so the
    /// revert is not retried in a loop; the operator sees why in `reason`.
    mutating func abortRevert(_ name: String, reason: PatchReason, now: Date) -> StateChange {
        let ours = records[name]?.descriptor.storedModulePath != nil
        update(name) {
            $0.desired = ours
            $0.revertRequested = false
            $0.transitionStarted = nil
        }
        return move(name, to: ours ? .applied : .foreign, reason: reason, now: now)
    }

    /// The patch left the kernel. A foreign patch is forgotten: it was never ours. A new version
    /// that waited for the name to be free is staged.
    mutating func finishRevert(_ name: String, reason: PatchReason? = nil, now: Date) -> [StateChange] {
        update(name) {
            $0.desired = false
            $0.revertRequested = false
            $0.enabledSequence = nil
            $0.transitionStarted = nil
        }
        let change = move(name, to: .reverted, reason: reason, now: now)
        let upgrade = stageHeldUpgrade(name, from: .reverted, now: now)
        if upgrade.isEmpty, records[name]?.descriptor.storedModulePath == nil { records[name] = nil }
        return [change] + upgrade
    }

    /// Someone else disabled the patch (`echo 0 > enabled`): it is no longer wanted, and its
    /// module, which they left loaded, is theirs to remove.
    mutating func disabledOutside(_ name: String, inTransition: Bool, now: Date) -> [StateChange] {
        update(name) {
            $0.desired = false
            $0.disabledOutside = now
            $0.rollbackReason = nil
        }
        if inTransition {
            update(name) { $0.transitionStarted = now }
            return [move(name, to: .reverting, reason: Self.disabledOutsideReason, now: now)]
        }
        return finishRevert(name, reason: Self.disabledOutsideReason, now: now)
    }

    static let disabledOutsideReason = PatchReason(
        .disabledOutside, "disabled outside livepatchd (echo 0 > enabled); not applied again until an operator runs lpclient apply")

    /// A patch of ours found enabled although the ledger did not count on it (loaded by hand,
    /// or before a state save was lost): the kernel's view wins, and it stays.
    mutating func foundEnabled(_ name: String, functions: [String], now: Date) -> StateChange {
        let sequence = nextSequence()
        update(name) {
            $0.enabledSequence = sequence
            $0.desired = true
            $0.disabledOutside = nil
            $0.descriptor.functions = functions
        }
        return move(name, to: .applied, reason: PatchReason(.foundEnabled, "found enabled in the kernel"), now: now)
    }

    /// A livepatch this daemon did not load.
    mutating func foreign(_ patch: KernelPatch, replacing previous: PatchState?, now: Date) -> StateChange {
        let sequence = nextSequence()
        var record = PatchRecord(
            descriptor: PatchDescriptor(name: patch.name, functions: patch.functions), state: .foreign,
            reason: PatchReason(.loadedBySomeoneElse, "loaded by someone else"), since: now)
        record.enabledSequence = sequence
        return set(record, from: previous, now: now)
    }

    /// Back to staged, still wanted: the kernel lost it (a reboot) or never got it (the daemon
    /// died before the load).
    mutating func lost(_ name: String, reason: PatchReason, now: Date) -> StateChange {
        update(name) {
            $0.transitionStarted = nil
            $0.rollbackReason = nil
        }
        return move(name, to: .staged, reason: reason, now: now)
    }

    /// A revert found the patch enabled again: the daemon died before writing `enabled`.
    mutating func revertInterrupted(_ name: String, now: Date) -> StateChange {
        update(name) {
            $0.desired = false
            $0.transitionStarted = nil
        }
        return move(name, to: .applied, reason: PatchReason(.revertInterrupted, "revert interrupted; reverting again"), now: now)
    }

    mutating func forget(_ name: String) { records[name] = nil }

    mutating func setFunctions(_ name: String, _ functions: [String]) {
        guard records[name]?.descriptor.functions != functions else { return }
        update(name) { $0.descriptor.functions = functions }
    }

    // MARK: - Internals shared by the changes

    /// The next place in the stacking order: later wins for a shared function.
    private mutating func nextSequence() -> Int {
        lastSequence += 1
        return lastSequence
    }

    private mutating func stageHeldUpgrade(_ name: String, from state: PatchState, now: Date) -> [StateChange] {
        guard let upgrade = records[name]?.heldUpgrade else { return [] }
        return [set(PatchRecord(descriptor: upgrade, state: .staged, since: now), from: state, now: now)]
    }

    /// Changes a record in place without a state change (no history entry).
    mutating func update(_ name: String, _ body: (inout PatchRecord) -> Void) {
        guard var record = records[name] else { return }
        body(&record)
        records[name] = record
    }

    /// Only called for records the caller has just looked up.
    mutating func move(_ name: String, to state: PatchState, reason: PatchReason?, now: Date) -> StateChange {
        guard var record = records[name] else {
            preconditionFailure("ledger: no record \(name) to move to \(state)")
        }
        let from = record.state
        record.state = state
        record.reason = reason
        record.since = now
        return set(record, from: from, now: now)
    }

    mutating func set(_ record: PatchRecord, from: PatchState?, now: Date) -> StateChange {
        records[record.name] = record
        history.append(
            HistoryEntry(
                time: RFC3339.string(from: now), name: record.name, version: record.descriptor.version,
                state: record.state, reason: record.reason?.message))
        historyCount += 1
        if history.count > Self.historyLimit { history.removeFirst(history.count - Self.historyLimit) }
        return StateChange(name: record.name, from: from, record: record)
    }
}
