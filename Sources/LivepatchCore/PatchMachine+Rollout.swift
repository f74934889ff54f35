import FoundationEssentials
import LivepatchAPI

/// Rollout safety: what arrives is checked against what this host has seen (downgrades,
/// expiry), halt files stop a rollout, waves decide when a staged patch applies by itself, and
/// an enable that a boot did not survive quarantines its patch.
extension PatchMachine {
    /// A verified bundle that is older than one already verified for its name, or expired, is
    /// rejected; the one the record already holds is not judged again (an applied patch that
    /// expires is reported, not reverted).
    func gate(_ arrival: PatchLedger.Arrival, now: Date) -> PatchLedger.Arrival {
        guard case .verified(let descriptor, _) = arrival else { return arrival }
        if let existing = ledger[descriptor.name], existing.descriptor.manifestDigest == descriptor.manifestDigest {
            // Re-verified after a restart or a reload: it keeps the judgement it had.
            if existing.state == .rejected, let reason = existing.reason, [.downgrade, .expired].contains(reason.code) {
                return .rejected(descriptor, reason: reason)
            }
            return arrival
        }
        if let downgrade = ledger.downgrade(descriptor) { return .rejected(descriptor, reason: downgrade) }
        if let notAfter = descriptor.notAfter, notAfter <= now { return .rejected(descriptor, reason: Self.expired(notAfter)) }
        return arrival
    }

    static func expired(_ notAfter: Date) -> PatchReason {
        PatchReason(.expired, "expired: its not_after (\(RFC3339.string(from: notAfter))) has passed; ship a newer bundle")
    }

    /// The first event after a start judges the enables of earlier boots: one that a boot did not
    /// survive for `quarantine_window`, with no clean stop of the daemon after it, quarantines its
    /// patch before anything is applied again.
    mutating func checkBoot(_ out: inout Output, now: Date) {
        guard needsBootCheck else { return }
        needsBootCheck = false
        guard let bootID else { return }
        for record in ledger.recordsByName {
            guard let mark = record.lastEnable, !mark.survived, mark.bootID != bootID else { continue }
            let stoppedCleanly = ledger.lastCleanStop.map { $0.bootID == mark.bootID && $0.at >= mark.at } ?? false
            guard !stoppedCleanly, [.applying, .applied, .staged].contains(record.state) else {
                ledger.enableSurvived(record.name)
                continue
            }
            let window = Units.formatDuration(policy.quarantineWindow)
            let reason = PatchReason(
                .quarantined,
                "the machine went down within quarantine_window (\(window)) of enabling it "
                    + "(boot \(mark.bootID.prefix(8)), \(RFC3339.string(from: mark.at))) without a clean stop of livepatchd; "
                    + "not applied again by itself: `lpclient apply \(record.name)` applies it on purpose")
            out.change(ledger.quarantine(record.name, reason: reason, now: now))
        }
    }

    /// Halts, expiry of what waits for its wave, and enables that survived their window; after
    /// every event, like the settle timeout.
    mutating func enforceRollout(_ out: inout Output, now: Date) {
        for record in ledger.recordsByName where record.descriptor.storedModulePath != nil {
            let name = record.name
            if let mark = record.lastEnable, !mark.survived, mark.bootID == bootID, now >= mark.at + policy.quarantineWindow {
                ledger.enableSurvived(name)
            }
            let halt = halts.first { $0.halt.matches(record.descriptor) }
            switch (record.state, halt) {
            // Halted: what has not been asked for yet; with --revert also what was asked for or
            // reverted (so it is not applied again); a halted one again when the halt file changed.
            case (.staged, let halt?) where !record.desired || halt.halt.revert,
                (.reverted, let halt?) where halt.halt.revert,
                (.halted, let halt?) where record.reason != halt.patchReason:
                out.change(ledger.halt(name, reason: halt.patchReason, now: now))
            case (.applied, let halt?) where halt.halt.revert && record.desired:
                out.note(.haltReverts(name, file: halt.file))
                ledger.stopWanting(name)
            case (.halted, nil):
                out.change(ledger.resume(name, now: now))
            case (.staged, nil) where !record.desired && record.descriptor.notAfter.map({ $0 <= now }) == true:
                out.change(ledger.expire(name, reason: Self.expired(record.descriptor.notAfter ?? now), now: now))
            default:
                continue
            }
        }
    }

    /// When the machine must look again for rollout reasons: an expiry, an enable's window.
    func rolloutDeadlines() -> [Date] {
        ledger.records.values.flatMap { record -> [Date] in
            var dates: [Date] = []
            if let mark = record.lastEnable, !mark.survived, mark.bootID == bootID { dates.append(mark.at + policy.quarantineWindow) }
            if record.state == .staged, !record.desired, let notAfter = record.descriptor.notAfter { dates.append(notAfter) }
            return dates
        }
    }

    /// When a staged patch applies by itself on this host (its wave's turn, plus `apply_delay`),
    /// or nil when it does not (another policy, another kernel, disabled by hand, not staged).
    public func autoApplyAt(_ record: PatchRecord) -> Date? {
        guard record.state == .staged, !record.desired, policy.apply == .auto, record.disabledOutside == nil,
            unsupportedReason == nil, record.descriptor.release == release, record.descriptor.storedModulePath != nil
        else { return nil }
        return policy.rollout.applyAt(
            patch: record.name, released: record.descriptor.released, arrived: record.since, applyDelay: policy.applyDelay)
    }

    // MARK: - Reporting

    /// The wire view of a record: the ledger's, with this host's wave and when it will apply.
    public func patch(_ record: PatchRecord, stacking: PatchLedger.Stacking? = nil) -> Patch {
        var patch = ledger.patch(record, blockingTasks: blockers[record.name] ?? [], stacking: stacking)
        guard record.descriptor.storedModulePath != nil else { return patch }
        patch.wave = policy.rollout.wave(for: record.name)
        patch.applyAt = autoApplyAt(record).map(RFC3339.string(from:))
        return patch
    }

    /// The `STATUS=` line and what makes `lpclient status` exit 1.
    public func summary(kernel: KernelSupport, now: Date) -> (line: String, problems: [String]) {
        var (line, problems) = ledger.summary(policy: policy, kernel: kernel, now: now)
        if policy.apply == .off { line += "; applying is off (\(policy.applyOffSource ?? "apply = \"off\""))" }
        let next = ledger.records.values.compactMap { record in autoApplyAt(record).map { (record.name, $0) } }
            .min { ($0.1, $0.0) < ($1.1, $1.0) }
        if let (name, at) = next, at > now {
            let waves = policy.rollout.waves > 1 ? " (wave \(policy.rollout.wave(for: name)) of \(policy.rollout.waves))" : ""
            line += "; next: \(name) at \(RFC3339.string(from: at))\(waves)"
        }
        problems += haltProblems
        if let problem = kernelProblem { problems.insert(problem, at: 0) }
        return (line, problems)
    }
}
