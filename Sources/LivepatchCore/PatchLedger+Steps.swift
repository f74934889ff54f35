import Foundation
import LivepatchAPI

/// One state change, for the journal, the history and `Subscribe`.
public struct Transition: Sendable, Equatable {
    public var name: String
    public var from: PatchState?
    public var record: PatchRecord
    public var to: PatchState { record.state }
}

/// What the daemon should do next; it performs one step at a time because the kernel
/// serializes transitions (a load during another transition fails with EBUSY).
public enum Step: Sendable, Equatable {
    case revert(String)
    case apply(String)
    /// Nothing to do now; wake up at this time (an apply delay or a settle timeout ends), if any.
    case idle(until: Date?)
}

extension PatchLedger {
    /// Reverts first (they remove code), then applies: patches applied before (a reboot) in the
    /// order they were enabled, so the stacking comes back the same, then new ones by name.
    public func nextStep(policy: Policy, runningRelease: String, canApply: Bool, now: Date) -> Step {
        let ordered = records.values.sorted {
            ($0.enabledSequence ?? Int.max, $0.name) < ($1.enabledSequence ?? Int.max, $1.name)
        }
        if let record = ordered.first(where: { wantsRevert($0) }) { return .revert(record.name) }
        var wake: Date?
        func wakeAt(_ date: Date) { wake = min(wake ?? date, date) }
        for record in ordered {
            switch record.state {
            case .pending:
                wakeAt(record.since + policy.settleTimeout)
            case .staged, .failed, .reverted, .superseded:
                guard canApply, record.descriptor.release == runningRelease, record.descriptor.storedModulePath != nil
                else { continue }
                if record.desired { return .apply(record.name) }
                guard record.state == .staged, policy.apply == .auto else { continue }
                let due = record.since + policy.applyDelay
                if now >= due { return .apply(record.name) }
                wakeAt(due)
            default:
                continue
            }
        }
        return .idle(until: wake)
    }

    private func wantsRevert(_ record: PatchRecord) -> Bool {
        switch record.state {
        case .applied: !record.desired
        case .foreign: record.revertRequested
        default: false
        }
    }

    // MARK: - Steps performed

    /// The module is about to be loaded; it gets the next place in the stacking order.
    public mutating func beginApply(_ name: String, now: Date) -> Transition {
        lastSequence += 1
        let sequence = lastSequence
        update(name) {
            $0.desired = true
            $0.enabledSequence = sequence
            $0.transitionStarted = now
        }
        return move(name, to: .applying, reason: nil, now: now)
    }

    /// The transition finished. A `replace` patch supersedes every other loaded patch.
    public mutating func finishApply(_ name: String, functions: [String]?, now: Date) -> [Transition] {
        update(name) {
            $0.transitionStarted = nil
            if let functions { $0.descriptor.functions = functions }
        }
        var transitions = [move(name, to: .applied, reason: nil, now: now)]
        guard records[name]?.descriptor.replace == true else { return transitions }
        let others = records.values.filter {
            $0.name != name && ($0.state == .applied || $0.state == .foreign || $0.state == .applying)
        }.map(\.name).sorted()
        for other in others {
            update(other) {
                $0.desired = false
                $0.enabledSequence = nil
            }
            transitions.append(move(other, to: .superseded, reason: "replaced by \(name)", now: now))
        }
        return transitions
    }

    /// Load error or transition timeout, rolled back: not retried until asked again.
    public mutating func failApply(_ name: String, reason: String, now: Date) -> Transition {
        update(name) {
            $0.rollbackReason = nil
            $0.desired = false
            $0.enabledSequence = nil
            $0.transitionStarted = nil
        }
        return move(name, to: .failed, reason: reason, now: now)
    }

    public mutating func beginRevert(_ name: String, now: Date) -> Transition {
        update(name) { $0.transitionStarted = now }
        return move(name, to: .reverting, reason: nil, now: now)
    }

    /// The kernel refused the disable: the patch stays applied, and stays wanted, so the
    /// revert is not retried in a loop; the operator sees why in `reason`.
    public mutating func abortRevert(_ name: String, reason: String, now: Date) -> Transition {
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
    public mutating func finishRevert(_ name: String, now: Date) -> [Transition] {
        update(name) {
            $0.desired = false
            $0.revertRequested = false
            $0.enabledSequence = nil
            $0.transitionStarted = nil
        }
        let transition = move(name, to: .reverted, reason: nil, now: now)
        if let upgrade = records[name]?.heldUpgrade {
            // The version that waited for this one takes its place.
            return [transition, set(PatchRecord(descriptor: upgrade, state: .staged, since: now), from: .reverted, now: now)]
        }
        if records[name]?.descriptor.storedModulePath == nil { records[name] = nil }
        return [transition]
    }

    // MARK: - Internals shared by the mutations

    /// Changes a record in place without a state change (no history entry).
    public mutating func update(_ name: String, _ body: (inout PatchRecord) -> Void) {
        guard var record = records[name] else { return }
        body(&record)
        records[name] = record
    }

    mutating func move(_ name: String, to state: PatchState, reason: String?, now: Date) -> Transition {
        guard var record = records[name] else {
            preconditionFailure("ledger: no record \(name) to move to \(state)")
        }
        let from = record.state
        record.state = state
        record.reason = reason
        record.since = now
        return set(record, from: from, now: now)
    }

    mutating func set(_ record: PatchRecord, from: PatchState?, now: Date) -> Transition {
        records[record.name] = record
        history.append(
            HistoryEntry(
                time: RFC3339.string(from: now), name: record.name, version: record.descriptor.version,
                state: record.state, reason: record.reason))
        if history.count > Self.historyLimit { history.removeFirst(history.count - Self.historyLimit) }
        return Transition(name: record.name, from: from, record: record)
    }
}
