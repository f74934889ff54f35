import Foundation
import LivepatchAPI

extension PatchLedger {
    /// Brings the records in line with what the kernel really has: at start, after a crash or a
    /// reboot, and on every rescan. The kernel's view wins. Loaded patches nobody here knows
    /// become `foreign`; desired patches the kernel lost (a reboot) go back to `staged` and are
    /// applied again by the next steps. Transitions still running are left for the engine to
    /// follow (their records stay `applying` or `reverting`).
    public mutating func reconcile(kernel: [KernelPatch], now: Date) -> [Transition] {
        let live = Dictionary(kernel.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var transitions: [Transition] = []

        // Transitions first: a replace patch that finished while the daemon was away supersedes
        // the patches it replaced before those are looked at (they left sysfs with it).
        let order = records.values.sorted {
            ($0.state.isInTransition ? 0 : 1, $0.name) < ($1.state.isInTransition ? 0 : 1, $1.name)
        }.map(\.name)
        for name in order {
            guard let record = records[name] else { continue }
            let inKernel = live[name]
            if let inKernel { update(name) { $0.descriptor.functions = inKernel.functions } }
            switch (record.state, inKernel) {
            case (.applying, let patch?) where patch.enabled && !patch.inTransition:
                transitions += finishApply(name, functions: patch.functions, now: now)
            case (.applying, let patch?) where !patch.enabled:
                // The kernel is already taking it out again: follow that as a revert.
                transitions.append(beginRevert(name, now: now))
            case (.applying, nil) where record.rollbackReason != nil:
                // The rollback of a timed-out apply finished while the daemon was away.
                transitions.append(failApply(name, reason: record.rollbackReason ?? "rolled back", now: now))
            case (.applying, _?) where record.rollbackReason != nil:
                continue  // still rolling back: the engine follows it
            case (.applying, nil), (.applied, nil):
                // Lost by a reboot, or the daemon died before the load: applied again if desired,
                // in the order they were enabled (enabledSequence is kept for that).
                update(name) { $0.transitionStarted = nil }
                let reason = record.state == .applied ? "not in the kernel (rebooted?)" : "the load did not happen"
                transitions.append(move(name, to: .staged, reason: reason, now: now))
            case (.applied, let patch?) where !patch.enabled:
                transitions.append(beginRevert(name, now: now))
            case (.reverting, nil):
                transitions += finishRevert(name, now: now)
            case (.reverting, let patch?) where patch.enabled && !patch.inTransition:
                // Died before writing `enabled`: the revert is still wanted.
                update(name) {
                    $0.desired = false
                    $0.transitionStarted = nil
                }
                transitions.append(move(name, to: .applied, reason: "revert interrupted; reverting again", now: now))
            case (.foreign, nil):
                records[name] = nil
            case (.staged, let patch?), (.failed, let patch?), (.reverted, let patch?), (.superseded, let patch?),
                (.pending, let patch?), (.rejected, let patch?):
                guard patch.enabled, record.state != .superseded else { continue }
                lastSequence += 1
                let sequence = lastSequence
                if record.descriptor.storedModulePath != nil && (record.state == .staged || record.state == .reverted || record.state == .failed) {
                    // Ours, loaded by hand or before a state save was lost: the kernel's view
                    // wins, and the daemon does not take out what nobody asked it to.
                    update(name) {
                        $0.enabledSequence = sequence
                        $0.desired = true
                    }
                    transitions.append(move(name, to: .applied, reason: "found enabled in the kernel", now: now))
                } else {
                    // Not verified by this daemon (pending, rejected): what runs is not ours.
                    var foreign = PatchRecord(
                        descriptor: PatchDescriptor(name: name, functions: patch.functions), state: .foreign,
                        reason: "loaded by someone else", since: now)
                    foreign.enabledSequence = sequence
                    transitions.append(set(foreign, from: record.state, now: now))
                }
            default:
                continue
            }
        }

        for patch in kernel.sorted(by: { $0.name < $1.name }) where records[patch.name] == nil && patch.enabled {
            lastSequence += 1
            var record = PatchRecord(
                descriptor: PatchDescriptor(name: patch.name, functions: patch.functions), state: .foreign,
                reason: "loaded by someone else", since: now)
            record.enabledSequence = lastSequence
            transitions.append(set(record, from: nil, now: now))
        }
        return transitions
    }

    /// Patches of ours whose module the kernel no longer uses (no sysfs directory) while the
    /// ledger does not count on it: superseded ones, and any a crash left between a disable
    /// and the module's removal. Their modules can be removed.
    public func unloadable(kernel: [KernelPatch]) -> [String] {
        let live = Set(kernel.map(\.name))
        return records.values.filter {
            $0.descriptor.storedModulePath != nil && !live.contains($0.name) && !$0.state.isLoaded
        }.map(\.name).sorted()
    }

    /// Patches of ours the ledger no longer counts on that the kernel still lists, disabled and
    /// out of transition: on their way out of sysfs. A replace transition ends before the kernel's
    /// work that frees the patches it replaced has run; their modules become unloadable after.
    public func leaving(kernel: [KernelPatch]) -> [String] {
        kernel.filter { patch in
            guard !patch.enabled, !patch.inTransition, let record = records[patch.name] else { return false }
            return record.descriptor.storedModulePath != nil && !record.state.isLoaded
        }.map(\.name).sorted()
    }
}
