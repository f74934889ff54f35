import Foundation
import LivepatchAPI
import Testing

@testable import LivepatchCore

private let release = "6.1.0-test-amd64"
private let t0 = Date(timeIntervalSince1970: 1_800_000_000)

private func policy(_ apply: Policy.ApplyMode = .auto, delay: Duration = .zero) -> Policy {
    var policy = Policy()
    policy.apply = apply
    policy.applyDelay = delay
    return policy
}

@Suite("Planning the next step")
struct StepTests {
    @Test("auto policy applies a staged patch once apply_delay has passed")
    func autoAfterDelay() {
        let l = ledger(verified("a"))
        #expect(l.nextStep(policy: policy(delay: .seconds(60)), runningRelease: release, canApply: true, now: t0)
            == .idle(until: t0 + .seconds(60)))
        #expect(l.nextStep(policy: policy(delay: .seconds(60)), runningRelease: release, canApply: true, now: t0 + .seconds(60))
            == .apply("a"))
    }

    @Test("manual policy keeps it staged until an operator applies it")
    func manual() throws {
        var l = ledger(verified("a"))
        #expect(l.nextStep(policy: policy(.manual), runningRelease: release, canApply: true, now: t0) == .idle(until: nil))
        try l.requestApply("a", runningRelease: release)
        #expect(l.nextStep(policy: policy(.manual), runningRelease: release, canApply: true, now: t0) == .apply("a"))
    }

    @Test("a patch for another kernel stays staged: never planned, and refused on request")
    func otherKernel() {
        var l = ledger(verified("a", release: "6.1.0-other"))
        #expect(l.nextStep(policy: policy(), runningRelease: release, canApply: true, now: t0) == .idle(until: nil))
        #expect(throws: PatchLedger.RequestError.self) { try l.requestApply("a", runningRelease: release) }
    }

    @Test("nothing is applied on a kernel without livepatch support")
    func unsupported() {
        let l = ledger(verified("a"))
        #expect(l.nextStep(policy: policy(), runningRelease: release, canApply: false, now: t0) == .idle(until: nil))
    }

    @Test("a pending patch wakes the worker when its settle timeout ends")
    func pendingWakes() {
        let l = ledger(.incomplete(PatchDescriptor(name: "a"), waitingFor: "a.ko"))
        #expect(l.nextStep(policy: policy(), runningRelease: release, canApply: true, now: t0) == .idle(until: t0 + .seconds(30)))
    }

    @Test("a revert comes before any apply")
    func revertFirst() throws {
        var l = ledger(verified("a"), verified("b"))
        l.applyFully("b")
        try l.requestRevert("b")
        #expect(l.nextStep(policy: policy(), runningRelease: release, canApply: true, now: t0) == .revert("b"))
    }

    @Test("a failed patch is not retried until asked again")
    func failedNotRetried() throws {
        var l = ledger(verified("a"))
        _ = l.beginApply("a", now: t0)
        _ = l.failApply("a", reason: "transition timeout", now: t0)
        #expect(l["a"]?.desired == false)
        #expect(l.nextStep(policy: policy(), runningRelease: release, canApply: true, now: t0 + .seconds(3600)) == .idle(until: nil))
        try l.requestApply("a", runningRelease: release)
        #expect(l.nextStep(policy: policy(), runningRelease: release, canApply: true, now: t0) == .apply("a"))
    }
}

@Suite("State transitions")
struct TransitionTests {
    @Test("apply: staged → applying → applied, and the history has both")
    func apply() {
        var l = ledger(verified("a"))
        #expect(l.beginApply("a", now: t0).to == .applying)
        #expect(l.finishApply("a", functions: ["vmlinux:f"], now: t0).map(\.to) == [.applied])
        #expect(l.history.map(\.state) == [.staged, .applying, .applied])
        #expect(l["a"]?.descriptor.functions == ["vmlinux:f"])
    }

    @Test("revert: applied → reverting → reverted, no longer desired")
    func revert() throws {
        var l = ledger(verified("a"))
        l.applyFully("a")
        try l.requestRevert("a")
        #expect(l.beginRevert("a", now: t0).to == .reverting)
        #expect(l.finishRevert("a", now: t0).map(\.to) == [.reverted])
        #expect(l["a"]?.desired == false)
    }

    @Test("a replace patch supersedes every other loaded patch, foreign ones included")
    func replace() {
        var l = ledger(verified("a"), verified("b"), verified("r", replace: true))
        l.applyFully("a")
        _ = l.reconcile(kernel: [KernelPatch(name: "a", enabled: true, inTransition: false, functions: []),
            KernelPatch(name: "x", enabled: true, inTransition: false, functions: [])], now: t0)
        _ = l.beginApply("r", now: t0)
        let transitions = l.finishApply("r", functions: nil, now: t0)
        #expect(transitions.map(\.name) == ["r", "a", "x"])
        #expect(transitions.map(\.to) == [.applied, .superseded, .superseded])
        #expect(l["a"]?.reason == "replaced by r")
        #expect(l["b"]?.state == .staged)
    }

    @Test("revert of a disabled-refused patch keeps it applied and does not loop")
    func abortRevert() throws {
        var l = ledger(verified("a"))
        l.applyFully("a")
        try l.requestRevert("a")
        _ = l.beginRevert("a", now: t0)
        #expect(l.abortRevert("a", reason: "revert failed: EINVAL", now: t0).to == .applied)
        #expect(l.nextStep(policy: policy(), runningRelease: release, canApply: true, now: t0) == .idle(until: nil))
    }

    @Test("requests on patches in the wrong state are refused with the state named")
    func invalidRequests() {
        var l = ledger(verified("s"), .rejected(PatchDescriptor(name: "r"), reason: "bad signature"))
        #expect(throws: PatchLedger.RequestError.noSuchPatch("nope")) { try l.requestApply("nope", runningRelease: release) }
        #expect {
            try l.requestApply("r", runningRelease: release)
        } throws: { error in
            guard case .invalidState(_, .rejected, let reason) = error as? PatchLedger.RequestError else { return false }
            return reason.contains("bad signature")
        }
        #expect(throws: PatchLedger.RequestError.self) { try l.requestRevert("s") }
        _ = l.beginApply("s", now: t0)
        #expect(throws: PatchLedger.RequestError.self) { try l.requestRevert("s") }
    }
}

@Suite("Stacking order")
struct StackingTests {
    @Test("reverting a patch with another stacked on top is refused, naming it")
    func refused() {
        var l = ledger(verified("a", functions: ["vmlinux:f", "vmlinux:g"]), verified("b", functions: ["vmlinux:g"]))
        l.applyFully("a")
        l.applyFully("b", at: t0 + .seconds(1))
        #expect(l.stackedAbove("a") == ["b"])
        #expect(l.patch("a")?.stackedBelow == ["b"])
        #expect {
            try l.requestRevert("a")
        } throws: { error in
            guard case .invalidState(name: "a", state: .applied, let reason) = error as? PatchLedger.RequestError
            else { return false }
            return reason.contains("b is stacked on top")
        }
        #expect(l["a"]?.desired == true)
    }

    @Test("patches of different functions are independent; the top of a stack can go")
    func independent() throws {
        var l = ledger(verified("a", functions: ["vmlinux:f"]), verified("b", functions: ["vmlinux:g"]),
            verified("c", functions: ["vmlinux:f"]))
        l.applyFully("a")
        l.applyFully("b")
        l.applyFully("c")
        try l.requestRevert("b")
        try l.requestRevert("c")
        #expect(throws: PatchLedger.RequestError.self) { try l.requestRevert("a") }
    }

    @Test("the same function in another object is another function")
    func objectMatters() throws {
        var l = ledger(verified("a", functions: ["vmlinux:f"]), verified("b", functions: ["mod:f"]))
        l.applyFully("a")
        l.applyFully("b")
        try l.requestRevert("a")
    }
}

@Suite("Reconciling with the kernel")
struct ReconcileTests {
    private func kernel(_ name: String, enabled: Bool = true, transition: Bool = false) -> KernelPatch {
        KernelPatch(name: name, enabled: enabled, inTransition: transition, functions: ["vmlinux:f"])
    }

    @Test("after a reboot a desired patch is staged again and planned, nothing is loaded twice")
    func reboot() {
        var l = ledger(verified("a"))
        l.applyFully("a")
        #expect(l.reconcile(kernel: [], now: t0).map(\.to) == [.staged])
        #expect(l.nextStep(policy: Policy(), runningRelease: release, canApply: true, now: t0) == .apply("a"))
        var again = ledger(verified("b"))
        again.applyFully("b")
        #expect(again.reconcile(kernel: [kernel("b")], now: t0).isEmpty)
    }

    @Test("a daemon that died mid-apply finds the transition finished, or still running")
    func diedMidApply() {
        var l = ledger(verified("a"))
        _ = l.beginApply("a", now: t0)
        #expect(l.reconcile(kernel: [kernel("a", transition: true)], now: t0).isEmpty)
        #expect(l["a"]?.state == .applying)
        #expect(l.reconcile(kernel: [kernel("a")], now: t0).map(\.to) == [.applied])
    }

    @Test("a daemon that died before the load plans the load again")
    func diedBeforeLoad() {
        var l = ledger(verified("a"))
        _ = l.beginApply("a", now: t0)
        #expect(l.reconcile(kernel: [], now: t0).map(\.to) == [.staged])
        #expect(l.nextStep(policy: Policy(), runningRelease: release, canApply: true, now: t0) == .apply("a"))
    }

    @Test("a daemon that died mid-revert finishes it")
    func diedMidRevert() throws {
        var l = ledger(verified("a"))
        l.applyFully("a")
        try l.requestRevert("a")
        _ = l.beginRevert("a", now: t0)
        #expect(l.reconcile(kernel: [], now: t0).map(\.to) == [.reverted])
    }

    @Test("patches loaded by someone else are foreign, and forgotten when they leave")
    func foreign() {
        var l = PatchLedger()
        #expect(l.reconcile(kernel: [kernel("x")], now: t0).map(\.to) == [.foreign])
        #expect(l.nextStep(policy: Policy(), runningRelease: release, canApply: true, now: t0) == .idle(until: nil))
        _ = l.reconcile(kernel: [], now: t0)
        #expect(l["x"] == nil)
    }

    @Test("a foreign patch is reverted only when asked")
    func foreignRevert() throws {
        var l = PatchLedger()
        _ = l.reconcile(kernel: [kernel("x")], now: t0)
        try l.requestRevert("x")
        #expect(l.nextStep(policy: Policy(), runningRelease: release, canApply: true, now: t0) == .revert("x"))
    }
}

@Suite("Status summary")
struct SummaryTests {
    @Test("counts per state, and failed or rejected patches make it degraded")
    func summary() {
        var l = ledger(verified("a"), verified("b"), .rejected(PatchDescriptor(name: "r"), reason: "bad signature"))
        l.applyFully("a")
        let kernel = KernelSupport(
            release: release, livepatch: true, ftrace: true, lockdown: "none", signatureEnforced: false, taint: 0,
            simulated: true)
        let summary = l.summary(policy: Policy(), kernel: kernel, now: t0)
        #expect(summary.line == "1 rejected, 1 staged, 1 applied")
        #expect(summary.problems == ["r rejected: bad signature"])
    }

    @Test("staged on purpose is not degraded; a stuck transition is")
    func stuck() {
        var l = ledger(verified("a"))
        _ = l.beginApply("a", now: t0)
        let kernel = KernelSupport(
            release: release, livepatch: false, ftrace: nil, lockdown: nil, signatureEnforced: nil, taint: nil, simulated: false)
        let summary = l.summary(policy: Policy(), kernel: kernel, now: t0 + .seconds(61))
        #expect(summary.problems == ["a applying for longer than transition_timeout"])
        #expect(summary.line.contains("nothing can be applied"))
    }
}
