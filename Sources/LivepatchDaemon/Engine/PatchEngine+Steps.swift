import Foundation
import LivepatchAPI
import LivepatchCore
import LivepatchSystem
import Logging

extension PatchEngine {
    /// Performs steps until there is nothing to do; returns when the next timer is due.
    /// Only the worker (and ``start()`` before it) calls this: steps never overlap.
    @discardableResult
    func drive() async -> Date? {
        while !Task.isCancelled {
            if reconcileRequested {
                reconcileRequested = false
                await reconcile()
            }
            let recheckAt = await scanner.recheckAt
            if let recheckAt, recheckAt <= Date() { await scan() }
            record(ledger.settle(now: Date(), settleTimeout: policy.settleTimeout))
            // A transition already under way (found at start, or still stuck) comes first.
            if let running = ledger.records.values.sorted(by: { $0.name < $1.name }).first(where: { $0.state.isInTransition }) {
                await follow(running)
                if Task.isCancelled || (bounded && ledger[running.name]?.state.isInTransition == true) { return nil }
                continue
            }
            let canApply = backend.support().unsupportedReason == nil
            switch ledger.nextStep(policy: policy, runningRelease: backend.release, canApply: canApply, now: Date()) {
            case .apply(let name): await performApply(name)
            case .revert(let name): await performRevert(name)
            case .idle(let until):
                let recheckAt = await scanner.recheckAt
                return [until, recheckAt].compactMap { $0 }.min()
            }
        }
        return nil
    }

    /// Reads the kernel's view and lets it win. Part of a step: called from ``drive()`` and ``start()``.
    func reconcile() async {
        do {
            let kernel = try await backend.livePatches()
            Failpoint.reconcileAfterRead.hit()
            record(ledger.reconcile(kernel: kernel, now: Date()))
            await unloadLeftovers(kernel: kernel)
        } catch {
            logger.error("cannot read the kernel's livepatch state: \(error)")
        }
    }

    /// Follows a transition the worker did not start itself (the daemon restarted during it).
    private func follow(_ record: PatchRecord) async {
        switch record.state {
        case .applying where record.rollbackReason != nil: await resumeRollback(record.name)
        case .applying: await followApply(record.name)
        default: await followRevert(record.name)
        }
    }

    func scan() async {
        for arrival in await scanner.scan(runningRelease: backend.release, logger: logger) {
            switch arrival {
            case .arrived(let arrival):
                if case .verified = arrival { Failpoint.scanVerifiedBeforeRecord.hit() }
                record(ledger.arrive(arrival, now: Date()))
            case .removed(let file):
                for name in ledger.manifestRemoved(file) { logger.info("\(name): its manifest left the patch directory") }
            }
        }
    }

    // MARK: - Apply

    private func performApply(_ name: String) async {
        guard let path = ledger[name]?.descriptor.storedModulePath else { return }
        // The kernel refuses a load during any other transition (EBUSY), e.g. a foreign one.
        guard await waitForOtherTransitions(than: name) else { return }
        let others = ledger.records.values.filter { $0.name != name && ($0.state == .applied || $0.state == .foreign) }
        if ledger[name]?.descriptor.replace == true, !others.isEmpty {
            logger.notice(
                "\(name) is a replace patch: it will supersede \(others.map(\.name).sorted().joined(separator: ", "))",
                metadata: [LivepatchField.name: "\(name)"])
        }
        record([ledger.beginApply(name, now: Date())])
        do {
            try await backend.load(modulePath: path, name: name)
        } catch {
            record([ledger.failApply(name, reason: "load failed: \(error.detail)", now: Date())])
            return
        }
        await followApply(name)
    }

    /// Waits for the enable transition; on timeout reverts it (or forces it, if the policy allows).
    func followApply(_ name: String) async {
        let started = ledger[name]?.transitionStarted ?? Date()
        switch await waitForTransition(name, startedAt: started, done: { $0?.enabled == true && $0?.inTransition == false }) {
        case .done(let patch):
            let transitions = ledger.finishApply(name, functions: patch?.functions, now: Date())
            blockingTasks[name] = nil
            record(transitions)
            if transitions.count > 1, let kernel = try? await backend.livePatches() { await unloadLeftovers(kernel: kernel) }
        case .vanished:
            record([ledger.failApply(name, reason: "the kernel dropped the patch during its transition", now: Date())])
        case .timedOut(let blockers):
            await handleApplyTimeout(name, blockers: blockers)
        case .interrupted:
            break  // stopping: the record stays `applying`, the next start follows the transition
        }
    }

    private func handleApplyTimeout(_ name: String, blockers: [BlockingTask]) async {
        let seconds = Int(policy.transitionTimeout.seconds)
        let blocked = blockers.isEmpty ? "" : " (blocked by \(Self.describe(blockers)))"
        if policy.forceAfterTimeout {
            logger.warning("\(name): transition still running after \(seconds)s\(blocked); forcing it as force_after_timeout allows")
            do {
                try await backend.force(name)
            } catch {
                record([ledger.failApply(name, reason: "force failed: \(error.detail)", now: Date())])
                return
            }
            // The kernel ends a forced transition at its next retry, about a second later.
            if case .interrupted = await waitForTransition(name, startedAt: Date(), done: { $0?.inTransition == false }) { return }
            record(ledger.finishApply(name, functions: nil, now: Date()))
            return
        }
        let reason = "transition did not finish within \(seconds)s\(blocked); reverted"
        logger.warning("\(name): \(reason)", metadata: [LivepatchField.name: "\(name)"])
        // Remembered before the kernel is touched: a restart in the middle still ends `failed`.
        ledger.update(name) {
            $0.desired = false
            $0.rollbackReason = reason
        }
        save()
        do {
            try await backend.disable(name)
        } catch {
            record([ledger.failApply(name, reason: "\(reason), but rolling back failed: \(error.detail)", now: Date())])
            return
        }
        await followRollback(name)
    }

    /// The daemon died between saving a rollback and writing `enabled`: the kernel is still
    /// enabling the patch and would never take it out by itself, so disable it now.
    private func resumeRollback(_ name: String) async {
        if let patch = try? await backend.livePatches().first(where: { $0.name == name }), patch.enabled {
            let reason = ledger[name]?.rollbackReason ?? "rolled back"
            do { try await backend.disable(name) } catch {
                record([ledger.failApply(name, reason: "\(reason), but rolling back failed: \(error.detail)", now: Date())])
                return
            }
        }
        await followRollback(name)
    }

    /// Waits for a rolled-back apply to leave the kernel, removes the module, records `failed`.
    func followRollback(_ name: String) async {
        let reason = ledger[name]?.rollbackReason ?? "rolled back"
        var waitFrom = Date()
        while true {
            switch await waitForTransition(name, startedAt: waitFrom, done: { $0 == nil }) {
            case .interrupted:
                return  // stopping: the record stays `applying` with its rollback, the next start finishes it
            case .done, .vanished:
                blockingTasks[name] = nil
                if await backend.isModuleLoaded(name) {
                    do { try await backend.unload(name) } catch {
                        logger.error("\(name): rolled back but the module stays loaded: \(error.detail)")
                    }
                }
                record([ledger.failApply(name, reason: reason, now: Date())])
                return
            case .timedOut(let blockers):
                logger.warning(
                    "\(name): rolling back is still running; blocked by \(Self.describe(blockers)); still waiting",
                    metadata: [LivepatchField.name: "\(name)"])
                if bounded { return }
                waitFrom = Date()
            }
        }
    }

    // MARK: - Revert

    private func performRevert(_ name: String) async {
        record([ledger.beginRevert(name, now: Date())])
        do {
            try await backend.disable(name)
        } catch {
            logger.error("\(name): cannot disable: \(error.detail)", metadata: [LivepatchField.name: "\(name)"])
            record([ledger.abortRevert(name, reason: "revert failed: \(error.detail)", now: Date())])
            return
        }
        await followRevert(name)
    }

    func followRevert(_ name: String) async {
        // The record keeps its start time, so status reports a stuck revert as degraded; the
        // warning repeats once per transition_timeout.
        var waitFrom = ledger[name]?.transitionStarted ?? Date()
        while true {
            switch await waitForTransition(name, startedAt: waitFrom, done: { $0 == nil }) {
            case .interrupted:
                return  // stopping: the record stays `reverting`, the next start finishes it
            case .done, .vanished:
                blockingTasks[name] = nil
                if await backend.isModuleLoaded(name) {
                    do { try await backend.unload(name) } catch {
                        logger.error("\(name): reverted but the module stays loaded: \(error.detail)")
                    }
                }
                record(ledger.finishRevert(name, now: Date()))
                return
            case .timedOut(let blockers):
                // A disabled patch cannot be enabled again: the only ways out are waiting or forcing.
                if policy.forceAfterTimeout {
                    logger.warning("\(name): revert still running; forcing it as force_after_timeout allows")
                    do { try await backend.force(name) } catch {
                        logger.error("\(name): force failed: \(error.detail)", metadata: [LivepatchField.name: "\(name)"])
                    }
                } else {
                    logger.warning(
                        "\(name): revert still running after \(Int(policy.transitionTimeout.seconds))s; blocked by \(Self.describe(blockers)); still waiting",
                        metadata: [LivepatchField.name: "\(name)"])
                }
                if bounded { return }
                waitFrom = Date()
            }
        }
    }

    /// Waits while another livepatch is in transition; false when the daemon is stopping.
    private func waitForOtherTransitions(than name: String) async -> Bool {
        var logged = false
        while !Task.isCancelled {
            guard let busy = try? await backend.livePatches().first(where: { $0.inTransition && $0.name != name }) else {
                return true
            }
            if !logged {
                logger.info("\(name): waiting for the transition of \(busy.name) to finish before loading")
                logged = true
            }
            await backend.waitForTransition(busy.name, until: ContinuousClock().now + .seconds(1))
        }
        return false
    }

    // MARK: - Waiting for the kernel

    enum TransitionOutcome {
        case done(KernelPatch?)
        case vanished
        case timedOut(blockers: [BlockingTask])
        /// The daemon is stopping; the kernel carries on and the next start picks it up.
        case interrupted
    }

    /// Follows `name`'s transition until `done` holds for its kernel state (nil: gone from sysfs),
    /// sampling the tasks that block it at least once a second.
    private func waitForTransition(
        _ name: String, startedAt: Date, done: (KernelPatch?) -> Bool
    ) async -> TransitionOutcome {
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(max(0, policy.transitionTimeout.seconds - Date().timeIntervalSince(startedAt)))
        var nextSample = clock.now + .seconds(1)
        while true {
            if Task.isCancelled { return .interrupted }
            let patches = (try? await backend.livePatches()) ?? []
            let patch = patches.first { $0.name == name }
            if done(patch) { return .done(patch) }
            if patch == nil { return .vanished }
            if clock.now >= nextSample {
                let blockers = await backend.blockingTasks(name)
                if blockers != blockingTasks[name] {
                    blockingTasks[name] = blockers
                    if !blockers.isEmpty {
                        logger.event(
                            .transitionBlocked, "\(name): transition blocked by \(Self.describe(blockers))",
                            level: .info,
                            metadata: [
                                LivepatchField.name: "\(name)",
                                LivepatchField.state: "\(ledger[name]?.state.rawValue ?? "")",
                            ])
                    }
                }
                nextSample = clock.now + .seconds(1)
            }
            if clock.now >= deadline { return .timedOut(blockers: await backend.blockingTasks(name)) }
            await backend.waitForTransition(name, until: min(deadline, nextSample))
        }
    }

    /// Removes modules of ours the kernel no longer uses: superseded ones once the replace
    /// transition dropped them, and any a crash left between a disable and its removal.
    ///
    /// The kernel frees replaced patches in a work item after the transition ends: for a moment
    /// they stay in sysfs, then their module is still busy (EBUSY). Both are waited out, within
    /// a bound, rather than leave the module loaded for good.
    private func unloadLeftovers(kernel first: [KernelPatch]) async {
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(30)
        var kernel = first
        while true {
            var waiting = ledger.leaving(kernel: kernel)
            for name in ledger.unloadable(kernel: kernel) where await backend.isModuleLoaded(name) {
                do { try await backend.unload(name) } catch {
                    if error.errno == EBUSY, clock.now < deadline {
                        waiting.append(name)
                    } else {
                        logger.warning("\(name): its module could not be removed: \(error.detail)")
                    }
                }
            }
            if waiting.isEmpty || Task.isCancelled { return }
            if clock.now >= deadline {
                logger.warning("\(waiting.joined(separator: ", ")): still leaving the kernel after 30s; their modules stay loaded until the next rescan")
                return
            }
            try? await Task.sleep(for: .milliseconds(20))
            guard let now = try? await backend.livePatches() else { return }
            kernel = now
        }
    }

    static func describe(_ tasks: [BlockingTask]) -> String {
        tasks.prefix(5).map { "\($0.comm)[\($0.pid)]" }.joined(separator: ", ") + (tasks.count > 5 ? " and \(tasks.count - 5) more" : "")
    }
}
