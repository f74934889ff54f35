import FoundationEssentials
import Glibc
import LivepatchAPI

/// What the machine learns from the outside: the patch directory, the kernel, and how each
/// step it asked for ended.
extension PatchMachine {
    mutating func record(_ scan: DirectoryScan, _ out: inout Output, now: Date) {
        for arrival in scan.arrivals {
            let arrival = gate(noted(arrival), now: now)
            if case .verified(let descriptor, _) = arrival { ledger.noteSequence(descriptor) }
            let refusedBefore = ledger[arrival.descriptor.name]?.refusedArrival
            out.changes(ledger.arrive(arrival, now: now))
            if let record = ledger[arrival.descriptor.name], let refused = record.refusedArrival, refused != refusedBefore {
                out.note(.arrivalRefused(record.name, reason: refused))
            }
        }
        for name in ledger.forgetRemoved(keeping: scan.manifestFiles) { out.note(.manifestRemoved(name)) }
        scanDue = scan.recheckAt
        if scan.haltProblems != haltProblems, !scan.haltProblems.isEmpty { out.note(.haltProblems(scan.haltProblems)) }
        halts = scan.halts
        haltProblems = scan.haltProblems
    }

    /// A verified patch for another kernel is staged for it; the reason says so.
    private func noted(_ arrival: PatchLedger.Arrival) -> PatchLedger.Arrival {
        guard case .verified(let descriptor, nil) = arrival, let built = descriptor.release, built != release else { return arrival }
        return .verified(descriptor, note: PatchReason(.otherKernel, "built for kernel \(built), running \(release): applied when that kernel boots"))
    }

    mutating func finish(_ step: Step, _ outcome: StepOutcome, _ out: inout Output, now: Date) {
        switch (step, outcome) {
        case (.read, .kernel(let view)), (.watch, .kernel(let view)):
            if readFailure != nil { out.note(.kernelReadable) }
            readFailure = nil
            needsRead = false
            kernel = view
            observe(view, &out, now: now)
        case (.read, .failed(let error)), (.watch, .failed(let error)):
            // Unknown is not gone: every record keeps its state until the kernel reads again.
            let attempts = (readFailure?.attempts ?? 0) + 1
            let delay = min(30, 1 << min(attempts - 1, 5))
            readFailure = ReadFailure(detail: error.detail, attempts: attempts, retryAt: now + .seconds(delay))
            needsRead = true
            out.note(.kernelUnreadable(detail: error.detail, retryInSeconds: delay))
        case (.scan, .scanned(let scan)):
            needsScan = false
            record(scan, &out, now: now)
        case (.scan, _):
            needsScan = false
        case (.sampleBlockers(let name), .blockers(let tasks)):
            nextSample[name] = now + .seconds(Self.blockerSampleInterval)
            guard ledger[name]?.state.isInTransition == true, blockers[name] != tasks else { return }
            blockers[name] = tasks
            if !tasks.isEmpty, let state = ledger[name]?.state { out.note(.blocked(name, state: state, tasks: tasks)) }
        case (.load(let name, _), .notPerformed(let reason)):
            holdUntil = now + .seconds(10)
            out.note(.notRecorded(name, detail: reason))
            if ledger[name]?.state == .applying {
                out.change(ledger.cancelApply(name, reason: PatchReason(.notRecorded, "not loaded yet: \(reason); retrying"), now: now))
            }
        case (_, .notPerformed):
            holdUntil = now + .seconds(10)
        default:
            needsRead = true
            finishKernelStep(step, outcome, &out, now: now)
        }
    }

    /// A load, disable, force or unload ended; the kernel is read again before the next decision.
    private mutating func finishKernelStep(_ step: Step, _ outcome: StepOutcome, _ out: inout Output, now: Date) {
        let failure: StepError? = if case .failed(let error) = outcome { error } else { nil }
        switch step {
        case .load(let name, _):
            guard let failure, ledger[name]?.state == .applying else { return }
            out.changes(ledger.failApply(name, reason: failure.reason(.loadFailed, "load failed"), now: now))
        case .disable(let name):
            guard let failure, let record = ledger[name] else { return }
            if record.state == .applying, let rollback = record.rollbackReason {
                let reason = failure.reason(.rollbackFailed, "\(rollback.message), but rolling back failed")
                out.changes(ledger.failApply(name, reason: reason, now: now))
            } else if record.state == .reverting {
                out.note(.disableFailed(name, detail: failure.detail))
                out.change(ledger.abortRevert(name, reason: failure.reason(.revertFailed, "revert failed"), now: now))
            }
        case .force(let name):
            guard let failure, let record = ledger[name] else { return }
            if record.state == .applying {
                out.changes(ledger.failApply(name, reason: failure.reason(.forceFailed, "force failed"), now: now))
            } else {
                out.note(.forceFailed(name, detail: failure.detail))
            }
        case .unload(let name):
            finishUnload(name, failure: failure, &out, now: now)
        case .read, .watch, .scan, .sampleBlockers:
            break
        }
    }

    /// An unload ends whatever waited for it: a rollback, a revert, a dropped patch, an apply that
    /// found its old module still loaded, or the cleanup of a module nobody uses any more.
    private mutating func finishUnload(_ name: String, failure: StepError?, _ out: inout Output, now: Date) {
        guard let record = ledger[name] else { return }
        let gone = kernel?.patch(name) == nil
        switch record.state {
        case .applying where gone:
            if let failure { out.note(.moduleStaysLoaded(name, detail: "rolled back but the module stays loaded: \(failure.detail)")) }
            let reason = record.rollbackReason ?? PatchReason(.droppedByKernel, "the kernel dropped the patch during its transition")
            out.changes(ledger.failApply(name, reason: reason, now: now))
        case .reverting where gone:
            if let failure { out.note(.moduleStaysLoaded(name, detail: "reverted but the module stays loaded: \(failure.detail)")) }
            out.changes(ledger.finishRevert(name, now: now))
        case let state where !state.isLoaded && record.desired:
            // Its module from before (disabled by hand) had to go before the new load.
            guard let failure else { return }
            let reason = failure.reason(.oldModuleLoaded, "its module from before is still loaded and cannot be removed")
            out.changes(ledger.failApply(name, reason: reason, now: now))
        default:
            guard let failure else {
                unloadRetry[name] = nil
                return
            }
            let retry = unloadRetry[name] ?? UnloadRetry(until: now + .seconds(Self.unloadPatience))
            if failure.errno == EBUSY, now < retry.until {
                unloadRetry[name] = UnloadRetry(until: retry.until, next: now + .milliseconds(20))
            } else {
                // Left until the next rescan, rather than tried in a loop.
                unloadRetry[name] = UnloadRetry(until: retry.until, next: .distantFuture)
                out.note(.moduleStaysLoaded(name, detail: "its module could not be removed: \(failure.detail)"))
            }
        }
    }

    /// Brings the records in line with what the kernel really has: the kernel's view wins. Loaded
    /// patches nobody here knows become `foreign`; desired patches the kernel lost (a reboot) go back
    /// to `staged` and are applied again; patches someone else disabled are no longer wanted.
    /// Transitions still running are left to ``decide(_:now:)``.
    mutating func observe(_ view: KernelView, _ out: inout Output, now: Date) {
        // Transitions first: a replace patch that finished while the daemon was away supersedes
        // the patches it replaced before those are looked at (they left sysfs with it).
        let order = ledger.names(orderedBy: { $0.state.isInTransition ? 0 : 1 })
        for name in order {
            guard let record = ledger[name] else { continue }
            let patch = view.patch(name)
            let moduleLoaded = view.isLoaded(name)
            // What a loaded patch redirects, as the kernel says; recorded when a transition ends
            // (finishApply), so a running one does not cost a save per read.
            if let patch, !record.state.isInTransition { ledger.setFunctions(name, patch.functions) }
            switch (record.state, patch) {
            case (.applying, let patch?) where record.rollbackReason == nil && patch.enabled && !patch.inTransition:
                out.changes(ledger.finishApply(name, functions: patch.functions, now: now))
                forgetTransition(name)
            case (.applying, let patch?) where record.rollbackReason == nil && !patch.enabled:
                out.note(.disabledOutside(name))
                out.changes(ledger.disabledOutside(name, inTransition: patch.inTransition, now: now))
            case (.applying, nil) where !moduleLoaded:
                // The daemon died before the load, or the rollback ended while it was away.
                if let rollback = record.rollbackReason {
                    out.changes(ledger.failApply(name, reason: rollback, now: now))
                } else {
                    out.change(ledger.lost(name, reason: PatchReason(.loadNotDone, "the load did not happen"), now: now))
                }
                forgetTransition(name)
            case (.applied, let patch?) where !patch.enabled && !replaceCompleting(in: view):
                out.note(.disabledOutside(name))
                out.changes(ledger.disabledOutside(name, inTransition: patch.inTransition, now: now))
            case (.applied, nil) where moduleLoaded && record.descriptor.storedModulePath != nil:
                // Gone from sysfs with its module still loaded: disabled by hand, not a reboot.
                out.note(.disabledOutside(name))
                out.changes(ledger.disabledOutside(name, inTransition: false, now: now))
            case (.applied, nil):
                // Lost by a reboot: applied again if desired, in the order they were enabled.
                out.change(ledger.lost(name, reason: PatchReason(.notInKernel, "not in the kernel (rebooted?)"), now: now))
            case (.reverting, let patch?) where patch.enabled && !patch.inTransition:
                // Died before writing `enabled`: the revert is still wanted.
                out.change(ledger.revertInterrupted(name, now: now))
            case (.reverting, nil) where !moduleLoaded || record.disabledOutside != nil:
                out.changes(ledger.finishRevert(name, reason: record.disabledOutside.map { _ in PatchLedger.disabledOutsideReason }, now: now))
                forgetTransition(name)
            case (.foreign, nil):
                ledger.forget(name)
            case (.staged, let patch?), (.failed, let patch?), (.reverted, let patch?), (.pending, let patch?),
                (.rejected, let patch?), (.halted, let patch?), (.quarantined, let patch?):
                guard patch.enabled else { continue }
                if record.descriptor.storedModulePath != nil
                    && [.staged, .reverted, .failed, .halted, .quarantined].contains(record.state)
                {
                    // Ours, loaded by hand or before a state save was lost: the daemon does not
                    // take out what nobody asked it to.
                    out.change(ledger.foundEnabled(name, functions: patch.functions, now: now))
                } else {
                    // Not verified by this daemon (pending, rejected): what runs is not ours.
                    out.change(ledger.foreign(patch, replacing: record.state, now: now))
                }
            default:
                continue
            }
        }
        for patch in view.patches.filter({ ledger[$0.name] == nil && $0.enabled }).sorted(by: { $0.name < $1.name }) {
            out.change(ledger.foreign(patch, replacing: nil, now: now))
        }
    }

    /// One of our replace patches is ending its patching transition. Linux 6.1 disables the
    /// patches it replaces a moment before its own `transition` reads 0 (klp_complete_transition
    /// waits for an RCU sync in between, long under qemu TCG), and refuses anyone's `echo 0 >
    /// enabled` with EBUSY while a transition runs: a patch seen disabled then is being
    /// superseded, which the next read shows.
    private func replaceCompleting(in view: KernelView) -> Bool {
        ledger.records.values.contains { record in
            guard record.state == .applying, record.descriptor.replace, record.rollbackReason == nil,
                let patch = view.patch(record.name)
            else { return false }
            return patch.enabled && patch.inTransition
        }
    }

    mutating func forgetTransition(_ name: String) {
        blockers[name] = nil
        nextSample[name] = nil
        nextWarning[name] = nil
        forced.remove(name)
    }
}
