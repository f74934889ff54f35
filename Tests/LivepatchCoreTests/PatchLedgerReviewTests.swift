import Foundation
import LivepatchAPI
import Testing

@testable import LivepatchCore

/// Crash, reboot and ordering cases found by a second reader of the state machine.
@Suite("Reboots and crashes keep intent and order")
struct PatchLedgerRecoveryTests {
    private var manual: Policy {
        var policy = Policy()
        policy.apply = .manual
        return policy
    }

    @Test("an operator's apply under manual policy survives a reboot and the first scan after it")
    func manualApplySurvivesReboot() throws {
        var h = MachineHarness(verified("a"), policy: manual)
        h.run()
        try h.requestApply("a")
        h.run()
        h.reboot()
        h.drop(verified("a"))
        h.run()
        #expect(h["a"]?.desired == true)
        #expect(h.kernelSteps == ["load a", "load a"])
        #expect(h.state("a") == .applied)
    }

    @Test("a replace patch that finished while the daemon was dead supersedes the old ones; they are not applied again")
    func replaceFinishedWhileDead() {
        var l = ledger(verified("a_old"), verified("r_new", replace: true))
        l.applyFully("a_old")
        _ = l.beginApply("r_new", now: t0)
        // The kernel finished the replace transition: a_old left sysfs with it.
        var h = MachineHarness(ledger: l)
        h.foreignLoad("r_new")
        h.run()
        #expect(h.changes.map(\.to) == [.applied, .superseded])
        #expect(h.state("a_old") == .superseded)
        #expect(h.kernelSteps.isEmpty)
    }

    @Test("a staged patch found enabled under manual policy stays applied and wanted")
    func foundEnabledIsKept() {
        var h = MachineHarness(policy: manual, ledger: ledger(verified("a")))
        h.manifestFiles = ["a.json"]
        h.foreignLoad("a")
        h.run()
        #expect(h.state("a") == .applied)
        #expect(h["a"]?.desired == true)
        #expect(h.kernelSteps.isEmpty)
    }

    @Test("modules of ours the kernel no longer uses are removed; loaded and foreign ones never")
    func leftovers() {
        var l = ledger(verified("reverted_one"), verified("applied_one"))
        l.applyFully("reverted_one")
        l.applyFully("applied_one")
        _ = l.beginRevert("reverted_one", now: t0)
        _ = l.finishRevert("reverted_one", now: t0)
        var h = MachineHarness(ledger: l)
        h.modules = ["reverted_one", "applied_one", "x"]
        h.patches["applied_one"] = KernelPatch(name: "applied_one", enabled: true, inTransition: false, functions: [])
        h.patches["x"] = KernelPatch(name: "x", enabled: true, inTransition: false, functions: [])
        h.run()
        #expect(h.kernelSteps == ["unload reverted_one"])
        #expect(h.modules == ["applied_one", "x"])
    }

    @Test("a new version of an applied patch waits, says so, and is staged once the old one is reverted")
    func heldUpgrade() throws {
        var l = ledger(verified("a", digest: "v1"))
        l.applyFully("a")
        #expect(l.arrive(verified("a", digest: "v2"), now: t0).isEmpty)
        #expect(l.patch("a")?.reason?.contains("arrived and waits") == true)
        try l.requestRevert("a")
        _ = l.beginRevert("a", now: t0)
        let transitions = l.finishRevert("a", now: t0)
        #expect(transitions.map(\.to) == [.reverted, .staged])
        #expect(l.patch(transitions[0].record).state == .reverted)
        #expect(l["a"]?.descriptor.manifestDigest == "v2")
        #expect(l["a"]?.state == .staged)
    }

    @Test("a refused revert of a foreign patch leaves it foreign and not desired")
    func abortForeignRevert() throws {
        var l = PatchLedger()
        _ = l.foreign(KernelPatch(name: "x", enabled: true, inTransition: false, functions: []), replacing: nil, now: t0)
        try l.requestRevert("x")
        _ = l.beginRevert("x", now: t0)
        #expect(l.abortRevert("x", reason: PatchReason(.revertFailed, "revert failed"), now: t0).to == .foreign)
        #expect(l["x"]?.desired == false)
        #expect(l["x"]?.revertRequested == false, "not retried in a loop")
    }
}
