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

        for name in records.keys.sorted() {
            guard let record = records[name] else { continue }
            let inKernel = live[name]
            if let inKernel { update(name) { $0.descriptor.functions = inKernel.functions } }
            switch (record.state, inKernel) {
            case (.applying, let patch?) where patch.enabled && !patch.inTransition:
                transitions += finishApply(name, functions: patch.functions, now: now)
            case (.applying, let patch?) where !patch.enabled:
                // The kernel is already taking it out again: follow that as a revert.
                transitions.append(beginRevert(name, now: now))
            case (.applying, nil), (.applied, nil):
                // Lost by a reboot, or the daemon died before the load: applied again if desired.
                update(name) {
                    $0.enabledSequence = nil
                    $0.transitionStarted = nil
                }
                let reason = record.state == .applied ? "not in the kernel (rebooted?)" : "the load did not happen"
                transitions.append(move(name, to: .staged, reason: reason, now: now))
            case (.applied, let patch?) where !patch.enabled:
                transitions.append(beginRevert(name, now: now))
            case (.reverting, nil):
                transitions.append(finishRevert(name, now: now))
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
                if patch.enabled && record.state != .superseded {
                    lastSequence += 1
                    let sequence = lastSequence
                    update(name) { $0.enabledSequence = sequence }
                    transitions.append(move(name, to: .applied, reason: "found enabled in the kernel", now: now))
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

    /// Records whose module the daemon loaded and the kernel no longer uses: a superseded
    /// patch's module can be removed once the kernel dropped its sysfs directory.
    public func unloadable(kernel: [KernelPatch]) -> [String] {
        let live = Set(kernel.map(\.name))
        return records.values.filter { $0.state == .superseded && $0.descriptor.storedModulePath != nil && !live.contains($0.name) }
            .map(\.name).sorted()
    }
}
