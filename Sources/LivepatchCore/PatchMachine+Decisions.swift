import FoundationEssentials
import LivepatchAPI

/// What to do next, decided from the ledger, the last kernel read and the clock the caller
/// passed; one step at a time.
extension PatchMachine {
    /// A decision: the next step, and whether READY=1 may come before it (a transition stuck past
    /// its timeout, or another one's, does not hold up the start).
    enum Decision {
        case perform(Step, holdsUpReady: Bool = true)
        case idle(until: Date?)
    }

    mutating func decide(_ out: inout Output, now: Date) {
        guard step == nil else { return }
        switch next(&out, now: now) {
        case .perform(let next, let holdsUpReady):
            step = next
            if !holdsUpReady { becomeReady(&out) }
            out.then(.perform(next))
        case .idle(let until):
            // Before the first read and scan nothing is known yet; after them, idle is ready.
            if !needsScan && kernel != nil || !needsScan && readFailure != nil { becomeReady(&out) }
            if let until { out.then(.wake(at: until)) }
        }
    }

    private mutating func becomeReady(_ out: inout Output) {
        guard !isReady else { return }
        isReady = true
        out.then(.ready)
    }

    /// In order: the kernel's view, the patch directory, a transition under way, modules nobody
    /// uses any more, reverts (they remove code), applies.
    private mutating func next(_ out: inout Output, now: Date) -> Decision {
        if needsRead {
            if let failure = readFailure, now < failure.retryAt {
                // A scan needs no kernel; a decision does.
                if needsScan { return .perform(.scan) }
                return .idle(until: failure.retryAt)
            }
            return .perform(.read)
        }
        if needsScan || scanDue.map({ $0 <= now }) == true {
            scanDue = nil
            return .perform(.scan)
        }
        guard let view = kernel else { return .perform(.read) }
        if let running = ledger.records.values.filter(\.state.isInTransition).min(by: { $0.name < $1.name }) {
            return follow(running, view, &out, now: now)
        }
        if let leftover = leftover(view, &out, now: now) { return leftover }
        if let record = ordered.first(where: wantsRevert) {
            out.change(ledger.beginRevert(record.name, now: now))
            return .perform(.disable(record.name))
        }
        return apply(view, &out, now: now)
    }

    /// Patches applied before (a reboot) in the order they were enabled, so the stacking comes
    /// back the same, then new ones by name.
    private var ordered: [PatchRecord] {
        ledger.records(orderedBy: { $0.enabledSequence ?? Int.max })
    }

    private func wantsRevert(_ record: PatchRecord) -> Bool {
        switch record.state {
        case .applied: !record.desired
        case .foreign: record.revertRequested
        default: false
        }
    }

    // MARK: - Applying

    private mutating func apply(_ view: KernelView, _ out: inout Output, now: Date) -> Decision {
        var wake = [holdUntil, scanDue, unloadRetry.values.compactMap(\.next).filter { $0 != .distantFuture }.min()]
            .compactMap { $0 } + rolloutDeadlines()
        if let holdUntil, holdUntil <= now { self.holdUntil = nil }
        for record in ordered {
            switch record.state {
            case .pending:
                wake.append(record.since + policy.settleTimeout)
            case .staged, .failed, .reverted, .superseded, .quarantined:
                // The kill switch: nothing is loaded, not even what a reboot took out.
                guard policy.apply != .off, unsupportedReason == nil, record.descriptor.release == release,
                    record.descriptor.storedModulePath != nil
                else { continue }
                if !record.desired {
                    guard let due = autoApplyAt(record) else { continue }
                    guard now >= due else {
                        wake.append(due)
                        continue
                    }
                }
                if let holdUntil, now < holdUntil { continue }
                return load(record, view, &out, now: now)
            default:
                continue
            }
        }
        return .idle(until: wake.filter { $0 > now }.min())
    }

    private mutating func load(_ record: PatchRecord, _ view: KernelView, _ out: inout Output, now: Date) -> Decision {
        let name = record.name
        // The kernel refuses a load during any other transition (EBUSY), e.g. a foreign one.
        if let busy = view.patches.first(where: { $0.inTransition && $0.name != name }) {
            if waitsLogged.insert(busy.name).inserted { out.note(.waitingForTransition(name, other: busy.name)) }
            return .perform(.watch(busy.name, seen: busy, until: now + .seconds(Self.sampleInterval)), holdsUpReady: false)
        }
        waitsLogged = []
        // Its earlier module is still loaded (the patch was disabled by hand): it goes first.
        if view.isLoaded(name), view.patch(name) == nil {
            return .perform(.unload(name))
        }
        guard let modulePath = record.descriptor.storedModulePath else { return .idle(until: nil) }
        let others = ledger.records.values.filter { $0.name != name && ($0.state == .applied || $0.state == .foreign) }
        if record.descriptor.replace, !others.isEmpty {
            out.note(.willSupersede(name, others: others.map(\.name).sorted()))
        }
        // The record says whose module this is before the kernel has it: saved before the step.
        out.change(ledger.beginApply(name, bootID: bootID, now: now))
        return .perform(.load(name, modulePath: modulePath))
    }

    // MARK: - Following a transition

    private mutating func follow(_ record: PatchRecord, _ view: KernelView, _ out: inout Output, now: Date) -> Decision {
        let name = record.name
        guard let patch = view.patch(name) else {
            // Out of sysfs: its module goes, then the record says how it ended (see finishUnload).
            if view.isLoaded(name) && record.disabledOutside == nil { return .perform(.unload(name)) }
            // observe(_:) settled the others on this very read; look again in a moment.
            needsRead = true
            return .idle(until: now + .seconds(Self.sampleInterval))
        }
        let deadline = (record.transitionStarted ?? record.since) + policy.transitionTimeout
        let seconds = Int(policy.transitionTimeout.seconds)
        let tasks = blockers[name] ?? []
        if record.state == .applying, record.rollbackReason != nil {
            // Resumes a rollback a restart interrupted between saving it and writing `enabled`.
            if patch.enabled { return .perform(.disable(name)) }
            return wait(patch, until: deadline, what: "rolling back", &out, now: now)
        }
        if record.state == .applying, now >= deadline, !forced.contains(name) {
            let blocked = tasks.isEmpty ? "" : " (blocked by \(BlockingTask.describe(tasks)))"
            if policy.forceAfterTimeout {
                forced.insert(name)
                out.note(.forcing(name, seconds: seconds, blockers: tasks))
                return .perform(.force(name))
            }
            let reason = PatchReason(.transitionTimeout, "transition did not finish within \(seconds)s\(blocked); reverted")
            out.note(.rollingBack(name, reason: reason.message))
            ledger.beginRollback(name, reason: reason)
            nextWarning[name] = now + policy.transitionTimeout
            return .perform(.disable(name))
        }
        if record.state == .reverting, now >= deadline, policy.forceAfterTimeout, !forced.contains(name),
            record.disabledOutside == nil
        {
            // A disabled patch cannot be enabled again: the only ways out are waiting or forcing
            // (not someone else's disable: that one is theirs to force).
            forced.insert(name)
            out.note(.forcing(name, seconds: seconds, blockers: tasks))
            return .perform(.force(name))
        }
        let what = record.state == .reverting ? "revert" : "apply"
        return wait(patch, until: deadline, what: what, &out, now: now)
    }

    /// Samples the blocking tasks every `blockerSampleInterval`, says once per `transition_timeout`
    /// that a transition past its deadline is still running, and otherwise waits for it.
    private mutating func wait(
        _ patch: KernelPatch, until deadline: Date, what: String, _ out: inout Output, now: Date
    ) -> Decision {
        let name = patch.name
        let stuck = now >= deadline
        if nextSample[name].map({ now >= $0 }) ?? true {
            return .perform(.sampleBlockers(name), holdsUpReady: !stuck)
        }
        if stuck, nextWarning[name].map({ now >= $0 }) ?? true {
            nextWarning[name] = now + policy.transitionTimeout
            if !forced.contains(name) {
                out.note(.stillWaiting(name, what: what, seconds: Int(policy.transitionTimeout.seconds), blockers: blockers[name] ?? []))
            }
        }
        var until = nextSample[name] ?? now + .seconds(Self.blockerSampleInterval)
        if !stuck { until = min(until, deadline) }
        return .perform(.watch(name, seen: patch, until: until), holdsUpReady: !stuck)
    }

    // MARK: - Modules nobody uses any more

    /// Modules of ours the kernel no longer uses (no sysfs directory) while the ledger does not
    /// count on them: superseded ones, and any a crash left between a disable and the removal. A
    /// replace transition ends before the kernel's work that frees the patches it replaced has
    /// run: those are waited for, within a bound.
    private mutating func leftover(_ view: KernelView, _ out: inout Output, now: Date) -> Decision? {
        var leaving: [KernelPatch] = []
        var gaveUp: [String] = []
        for record in ledger.recordsByName {
            let name = record.name
            guard record.descriptor.storedModulePath != nil, !record.state.isLoaded, record.disabledOutside == nil,
                view.isLoaded(name), !(record.desired && record.state != .superseded)
            else { continue }
            let retry = unloadRetry[name]
            if let next = retry?.next, next > now { continue }
            guard let patch = view.patch(name) else { return .perform(.unload(name)) }
            guard !patch.enabled && !patch.inTransition else { continue }
            if now < (retry?.until ?? .distantFuture) {
                leaving.append(patch)
            } else {
                // Left until the next rescan, rather than waited for in a loop.
                unloadRetry[name] = UnloadRetry(until: retry?.until ?? now, next: .distantFuture)
                gaveUp.append(name)
            }
        }
        if !gaveUp.isEmpty { out.note(.stillLeaving(gaveUp)) }
        guard let first = leaving.first else { return nil }
        for patch in leaving where unloadRetry[patch.name] == nil {
            unloadRetry[patch.name] = UnloadRetry(until: now + .seconds(Self.unloadPatience))
        }
        return .perform(.watch(first.name, seen: first, until: now + .milliseconds(20)), holdsUpReady: false)
    }
}

extension BlockingTask {
    /// `comm[pid], …` for the first five, and how many more.
    public static func describe(_ tasks: [BlockingTask]) -> String {
        tasks.prefix(5).map { "\($0.comm)[\($0.pid)]" }.joined(separator: ", ") + (tasks.count > 5 ? " and \(tasks.count - 5) more" : "")
    }
}
