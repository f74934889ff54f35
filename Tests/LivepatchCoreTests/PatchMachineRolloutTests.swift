import Foundation
import LivepatchAPI
import Testing

@testable import LivepatchCore

private func rolloutPolicy(
    waves: Int = 4, bake: Duration = .seconds(3600), pinned: Int? = nil, machineID: String? = "host-a",
    delay: Duration = .zero, apply: Policy.ApplyMode = .auto
) -> Policy {
    var policy = Policy()
    policy.apply = apply
    policy.applyDelay = delay
    policy.rollout = Rollout(waves: waves, bake: bake, pinnedWave: pinned, machineID: machineID)
    return policy
}

private func halt(_ target: String, revert: Bool = false) -> VerifiedHalt {
    VerifiedHalt(
        file: "\(target).halt", halt: Halt(halt: target, revert: revert, reason: "bad on canaries", created: "2026-12-03T10:00:00Z"),
        signedBy: "release")
}

@Suite("Machine: rollout waves")
struct MachineWaveTests {
    @Test("the wave hash is stable, spreads hosts over every wave, and differs per patch")
    func waveHash() {
        let waves = (0..<4000).map { Rollout.hashedWave(machineID: "machine-\($0)", patch: "fix", waves: 4) }
        let counts = (0..<4).map { wave in waves.filter { $0 == wave }.count }
        #expect(counts.allSatisfy { (850...1150).contains($0) }, "about 1000 hosts per wave: \(counts)")
        #expect(Rollout.hashedWave(machineID: "machine-7", patch: "fix", waves: 4) == waves[7])
        let differs = (0..<100).contains {
            Rollout.hashedWave(machineID: "machine-\($0)", patch: "fix", waves: 4)
                != Rollout.hashedWave(machineID: "machine-\($0)", patch: "other_fix", waves: 4)
        }
        #expect(differs)
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var label: String
        var pinned: Int?
        var machineID: String? = "host-a"
        /// Seconds after `released` the machine looks.
        var after: Double
        var loaded: Bool
        var testDescription: String { label }
    }

    static let cases: [Case] = [
        Case(label: "wave 0 applies at the release", pinned: 0, after: 0, loaded: true),
        Case(label: "wave 2 waits two bakes", pinned: 2, after: 7199, loaded: false),
        Case(label: "wave 2 applies after two bakes", pinned: 2, after: 7200, loaded: true),
        Case(label: "a pin beyond the last wave is the last wave", pinned: 9, after: 3 * 3600 - 1, loaded: false),
        Case(label: "no machine id: the last wave", pinned: nil, machineID: nil, after: 3 * 3600 - 1, loaded: false),
        Case(label: "no machine id: applies with the last wave", pinned: nil, machineID: nil, after: 3 * 3600, loaded: true),
    ]

    @Test(arguments: cases)
    func applyAt(_ c: Case) {
        var h = MachineHarness(verified("a", released: t0), policy: rolloutPolicy(pinned: c.pinned, machineID: c.machineID))
        h.run()
        if c.after > 0 { h.advance(by: c.after) }
        #expect(h.kernelSteps == (c.loaded ? ["load a"] : []))
    }

    @Test("a staged patch reports its wave and apply_at, and the machine wakes exactly then")
    func reportsApplyAt() {
        var h = MachineHarness(verified("a", released: t0), policy: rolloutPolicy(pinned: 1, delay: .seconds(60)))
        h.run()
        let record = h["a"]!
        let patch = h.machine.patch(record)
        #expect(patch.wave == 1)
        #expect(patch.applyAt == RFC3339.string(from: t0 + .seconds(3660)))
        #expect(h.wake == t0 + .seconds(3660))
        let summary = h.machine.summary(kernel: testKernel, now: h.now)
        #expect(summary.line.contains("next: a at \(RFC3339.string(from: t0 + .seconds(3660))) (wave 1 of 4)"))
        #expect(summary.problems.isEmpty, "waiting for its wave is on purpose, not degraded")
    }

    @Test("released long before it arrived: the wave counts from the release, the delay from the arrival")
    func releasedEarlier() {
        var h = MachineHarness(verified("a", released: t0.addingTimeInterval(-7200)), policy: rolloutPolicy(pinned: 1, delay: .seconds(30)))
        h.run()
        #expect(h.kernelSteps.isEmpty)
        h.advance(by: 30)
        #expect(h.kernelSteps == ["load a"])
    }

    @Test("lpclient apply applies at once, whatever the wave")
    func operatorApplies() throws {
        var h = MachineHarness(verified("a", released: t0), policy: rolloutPolicy(pinned: 3))
        h.run()
        try h.requestApply("a")
        h.run()
        #expect(h.state("a") == .applied)
    }
}

@Suite("Machine: downgrades and expiry")
struct MachineDowngradeTests {
    @Test("a lower sequence than one verified is rejected, also after the record went and the daemon restarted")
    func downgradeRejected() {
        var h = MachineHarness(verified("a", digest: "v2", sequence: 5))
        h.run()
        #expect(h.state("a") == .applied)
        h.restart()
        h.drop(verified("a", digest: "v1", sequence: 3))
        h.rescan()
        #expect(h.state("a") == .applied, "the applied version stays")
        #expect(h["a"]?.refusedArrival?.code == .downgrade)
        #expect(h.notes.contains { if case .arrivalRefused("a", let reason) = $0 { reason.code == .downgrade } else { false } })
        #expect(h.machine.summary(kernel: testKernel, now: h.now).problems.contains { $0.contains("downgrade refused") })
        #expect(h.kernelSteps == ["load a"])
    }

    @Test("a replayed older bundle does not displace a staged newer one: it stays, the refusal reported with it")
    func downgradeOfStaged() {
        var h = MachineHarness(verified("a", digest: "v2", sequence: 5), policy: rolloutPolicy(pinned: 3))
        h.run()
        h.drop(verified("a", digest: "v1", sequence: 4))
        h.rescan()
        #expect(h.state("a") == .staged)
        #expect(h["a"]?.descriptor.manifestDigest == "v2")
        #expect(h["a"]?.refusedArrival?.message.contains("sequence 4 is lower than 5") == true)
        #expect(h.machine.patch(h["a"]!).reasonCode == "downgrade")
        #expect(h.machine.summary(kernel: testKernel, now: h.now).problems.contains { $0.contains("downgrade refused") })
        // The newer one comes back: nothing left to report.
        h.drop(verified("a", digest: "v2", sequence: 5))
        h.rescan()
        #expect(h["a"]?.refusedArrival == nil)
    }

    @Test("an older bundle replayed across a reboot: the newer one is applied again, the older refused")
    func downgradeAcrossReboot() {
        var h = MachineHarness(verified("a", digest: "v2", sequence: 5))
        h.run()
        h.reboot()
        h.drop(verified("a", digest: "v1", sequence: 3))
        h.run()
        #expect(h.state("a") == .applied)
        #expect(h["a"]?.descriptor.manifestDigest == "v2")
        #expect(h["a"]?.refusedArrival?.code == .downgrade)
        #expect(h.kernelSteps == ["load a", "load a"])
    }

    @Test("an equal or higher sequence is accepted; a bundle without one is never a downgrade")
    func upgradesAccepted() {
        var h = MachineHarness(verified("a", digest: "v1", sequence: 5), policy: rolloutPolicy(apply: .manual))
        h.run()
        for (digest, sequence) in [("v1b", 5), ("v2", 6), ("v0", nil)] as [(String, Int?)] {
            h.drop(verified("a", digest: digest, sequence: sequence))
            h.rescan()
            #expect(h.state("a") == .staged, "\(digest)")
        }
    }

    @Test("an expired bundle is rejected when it arrives; a staged one expires before its wave")
    func expiry() {
        var h = MachineHarness(verified("old", notAfter: t0.addingTimeInterval(-1)), verified("a", released: t0, notAfter: t0 + .seconds(600)),
            policy: rolloutPolicy(pinned: 1))
        h.run()
        #expect(h.state("old") == .rejected)
        #expect(h["old"]?.reason?.code == .expired)
        #expect(h.wake == t0 + .seconds(600))
        h.advance()
        #expect(h.state("a") == .rejected)
        #expect(h["a"]?.reason?.code == .expired)
        h.advance(by: 7200)
        #expect(h.kernelSteps.isEmpty)
    }

    @Test("an applied patch that expires is reported, not reverted")
    func appliedExpires() {
        var h = MachineHarness(verified("a", notAfter: t0 + .seconds(60)))
        h.run()
        h.advance(by: 120)
        #expect(h.state("a") == .applied)
        #expect(h.kernelSteps == ["load a"])
        #expect(h.machine.summary(kernel: testKernel, now: h.now).problems.contains { $0.contains("a expired at") })
        // Re-verified after a restart, it is not refused either.
        h.restart()
        h.drop(verified("a", notAfter: t0 + .seconds(60)))
        h.rescan()
        #expect(h["a"]?.refusedArrival == nil)
    }
}

@Suite("Machine: halts")
struct MachineHaltTests {
    @Test("a halt stops a staged patch; removing it resumes the rollout")
    func haltAndResume() {
        var h = MachineHarness(verified("a", released: t0), policy: rolloutPolicy(pinned: 1))
        h.halts = [halt("a")]
        h.run()
        #expect(h.state("a") == .halted)
        #expect(h["a"]?.reason?.message.contains("rollout halted by a.halt, signed by release: bad on canaries") == true)
        h.advance(by: 7200)
        #expect(h.kernelSteps.isEmpty)
        #expect(throws: PatchLedger.RequestError.self) { try h.requestApply("a") }
        h.halts = []
        h.rescan()
        #expect(h.state("a") == .applied)
    }

    @Test("without revert an applied patch stays; with revert it is reverted and shown halted")
    func haltRevert() {
        var h = MachineHarness(verified("a"))
        h.run()
        h.halts = [halt("a")]
        h.rescan()
        #expect(h.state("a") == .applied)
        h.halts = [halt("a", revert: true)]
        h.rescan()
        #expect(h.kernelSteps == ["load a", "disable a", "unload a"])
        #expect(h.state("a") == .halted)
        #expect(h.notes.contains(.haltReverts("a", file: "a.halt")))
    }

    @Test("a halt by module sha256 stops that build only")
    func haltBySHA() {
        let bad = String(repeating: "b", count: 64)
        var h = MachineHarness(verified("a", digest: "v1", sha256: bad), policy: rolloutPolicy(pinned: 1))
        h.halts = [halt(bad)]
        h.run()
        #expect(h.state("a") == .halted)
        h.drop(verified("a", digest: "v2", sha256: String(repeating: "c", count: 64)))
        h.rescan()
        #expect(h.state("a") == .staged)
    }

    @Test("after a reboot a halted host does not apply; a host that had applied it applies it again unless the halt reverts")
    func haltAcrossReboot() {
        var h = MachineHarness(verified("a"))
        h.run()
        h.halts = [halt("a")]
        h.reboot()
        h.run()
        #expect(h.state("a") == .applied, "applied before the halt: stays applied")
        h.halts = [halt("a", revert: true)]
        h.reboot()
        h.run()
        #expect(h.state("a") == .halted)
    }
}

@Suite("Machine: quarantine and the kill switch")
struct MachineQuarantineTests {
    @Test("a crash within quarantine_window of an enable quarantines the patch at the next boot")
    func crashQuarantines() throws {
        var h = MachineHarness(verified("a"))
        h.run()
        #expect(h["a"]?.lastEnable?.bootID == "boot-1")
        h.advance(by: 60)
        h.reboot(clean: false)
        h.run()
        #expect(h.state("a") == .quarantined)
        #expect(h["a"]?.reason?.code == .quarantined)
        #expect(h.kernelSteps == ["load a"], "not applied again")
        #expect(h.machine.summary(kernel: testKernel, now: h.now).problems.contains { $0.hasPrefix("a quarantined") })
        // Applied on purpose.
        try h.requestApply("a")
        h.run()
        #expect(h.state("a") == .applied)
    }

    @Test("a crash during the transition quarantines too")
    func crashDuringTransition() {
        var h = MachineHarness(verified("a"))
        h.stalled = ["a"]
        h.run(until: { $0.state("a") == .applying })
        h.reboot(clean: false)
        h.run()
        #expect(h.state("a") == .quarantined)
    }

    @Test("a clean stop, or an enable that survived its window, is not quarantined")
    func notQuarantined() {
        var h = MachineHarness(verified("a"))
        h.run()
        h.reboot(clean: true)
        h.run()
        #expect(h.state("a") == .applied)
        #expect(h.kernelSteps == ["load a", "load a"])

        var late = MachineHarness(verified("b"))
        late.run()
        #expect(late.wake == t0 + .seconds(600), "the machine wakes to mark the enable survived")
        late.advance()
        #expect(late["b"]?.lastEnable?.survived == true)
        late.reboot(clean: false)
        late.run()
        #expect(late.state("b") == .applied)
    }

    @Test("a clean stop is saved and starts nothing, even with an apply due")
    func stoppingStartsNothing() {
        var policy = Policy()
        policy.applyDelay = .seconds(60)
        var h = MachineHarness(verified("a"), policy: policy)
        h.run()
        h.now = t0 + .seconds(120)
        let saves = h.saves
        h.send(.stopping)
        #expect(h.asked == nil)
        #expect(h.saves == saves + 1)
        #expect(h.machine.ledger.lastCleanStop?.bootID == "boot-1")
    }

    @Test("a restart in the same boot quarantines nothing")
    func restartSameBoot() {
        var h = MachineHarness(verified("a"))
        h.run()
        h.restart()
        h.run()
        #expect(h.state("a") == .applied)
    }

    @Test("apply = off: nothing is loaded, not even after a reboot, and an apply request says why")
    func killSwitch() {
        var h = MachineHarness(verified("a"))
        h.run()
        var off = h.machine.policy
        off.apply = .off
        off.applyOffSource = "livepatchd.apply=off on the kernel command line"
        h.send(.policyChanged(off))
        h.drop(verified("b"))
        h.reboot()
        h.run()
        #expect(h.kernelSteps == ["load a"])
        #expect(h.state("a") == .staged)
        #expect(h.state("b") == .staged)
        #expect(h.ready)
        #expect(h.machine.summary(kernel: testKernel, now: h.now).line.contains("applying is off (livepatchd.apply=off on the kernel command line)"))
        #expect(throws: PatchLedger.RequestError.self) { try h.requestApply("b") }
        var on = off
        on.apply = .auto
        h.send(.policyChanged(on))
        h.run()
        #expect(h.state("a") == .applied)
        #expect(h.state("b") == .applied)
    }
}

let testKernel = KernelSupport(
    release: testRelease, livepatch: true, ftrace: true, lockdown: "none", signatureEnforced: false, taint: 0, simulated: true)
