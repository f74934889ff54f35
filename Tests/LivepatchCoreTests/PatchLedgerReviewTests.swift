import Foundation
import LivepatchAPI
import Testing

@testable import LivepatchCore

private let release = "6.1.0-test-amd64"
private let t0 = Date(timeIntervalSince1970: 1_800_000_000)

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
        var l = ledger(verified("a"))
        try l.requestApply("a", runningRelease: release)
        l.applyFully("a")
        _ = l.reconcile(kernel: [], now: t0)
        #expect(l.arrive(verified("a"), now: t0).isEmpty, "the same manifest is not a new arrival")
        #expect(l["a"]?.desired == true)
        #expect(l.nextStep(policy: manual, runningRelease: release, canApply: true, now: t0) == .apply("a"))
    }

    @Test("after a reboot patches are applied again in the order they were enabled, not by name")
    func reapplyInStackingOrder() {
        var l = ledger(verified("b_first", functions: ["vmlinux:f"]), verified("a_later", functions: ["vmlinux:f"]))
        l.applyFully("b_first")
        l.applyFully("a_later")
        _ = l.reconcile(kernel: [], now: t0)
        #expect(l.nextStep(policy: Policy(), runningRelease: release, canApply: true, now: t0) == .apply("b_first"))
        l.applyFully("b_first")
        #expect(l.nextStep(policy: Policy(), runningRelease: release, canApply: true, now: t0) == .apply("a_later"))
        l.applyFully("a_later")
        #expect(l.stackedAbove("b_first") == ["a_later"])
    }

    @Test("a replace patch that finished while the daemon was dead supersedes the old ones; they are not applied again")
    func replaceFinishedWhileDead() {
        var l = ledger(verified("a_old"), verified("r_new", replace: true))
        l.applyFully("a_old")
        _ = l.beginApply("r_new", now: t0)
        // The kernel finished the replace transition: a_old left sysfs with it.
        let transitions = l.reconcile(kernel: [KernelPatch(name: "r_new", enabled: true, inTransition: false, functions: [])], now: t0)
        #expect(transitions.map(\.to) == [.applied, .superseded])
        #expect(l["a_old"]?.state == .superseded)
        #expect(l.nextStep(policy: Policy(), runningRelease: release, canApply: true, now: t0) == .idle(until: nil))
    }

    @Test("a staged patch found enabled in the kernel is applied and wanted: the daemon does not take it out")
    func foundEnabledIsKept() {
        var l = ledger(verified("a"))
        let transitions = l.reconcile(kernel: [KernelPatch(name: "a", enabled: true, inTransition: false, functions: [])], now: t0)
        #expect(transitions.map(\.to) == [.applied])
        #expect(l["a"]?.desired == true)
        #expect(l.nextStep(policy: manual, runningRelease: release, canApply: true, now: t0) == .idle(until: nil))
    }

    @Test("a rejected bundle's name found enabled in the kernel is foreign: what runs was not verified here")
    func rejectedFoundEnabledIsForeign() {
        var l = ledger(.rejected(PatchDescriptor(name: "x"), reason: "bad signature"))
        _ = l.reconcile(kernel: [KernelPatch(name: "x", enabled: true, inTransition: false, functions: [])], now: t0)
        #expect(l["x"]?.state == .foreign)
    }

    @Test("modules of ours the kernel no longer uses can be removed; loaded and foreign ones never")
    func leftovers() throws {
        var l = ledger(verified("reverted_one"), verified("applied_one"))
        l.applyFully("reverted_one")
        l.applyFully("applied_one")
        try l.requestRevert("reverted_one")
        _ = l.beginRevert("reverted_one", now: t0)
        _ = l.finishRevert("reverted_one", now: t0)
        _ = l.reconcile(kernel: [KernelPatch(name: "applied_one", enabled: true, inTransition: false, functions: []),
            KernelPatch(name: "x", enabled: true, inTransition: false, functions: [])], now: t0)
        #expect(l.unloadable(kernel: [KernelPatch(name: "applied_one", enabled: true, inTransition: false, functions: [])]) == ["reverted_one"])
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
        _ = l.reconcile(kernel: [KernelPatch(name: "x", enabled: true, inTransition: false, functions: [])], now: t0)
        try l.requestRevert("x")
        _ = l.beginRevert("x", now: t0)
        #expect(l.abortRevert("x", reason: "revert failed", now: t0).to == .foreign)
        #expect(l["x"]?.desired == false)
        #expect(l.nextStep(policy: Policy(), runningRelease: release, canApply: true, now: t0) == .idle(until: nil))
    }
}
