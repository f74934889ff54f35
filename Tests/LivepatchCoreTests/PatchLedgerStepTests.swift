import Foundation
import LivepatchAPI
import Testing

@testable import LivepatchCore



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
        _ = l.foreign(KernelPatch(name: "x", enabled: true, inTransition: false, functions: []), replacing: nil, now: t0)
        _ = l.beginApply("r", now: t0)
        let transitions = l.finishApply("r", functions: nil, now: t0)
        #expect(transitions.map(\.name) == ["r", "a", "x"])
        #expect(transitions.map(\.to) == [.applied, .superseded, .superseded])
        #expect(l["a"]?.reason?.message == "replaced by r")
        #expect(l["b"]?.state == .staged)
    }

    @Test("revert of a disabled-refused patch keeps it applied and does not loop")
    func abortRevert() throws {
        var l = ledger(verified("a"))
        l.applyFully("a")
        try l.requestRevert("a")
        _ = l.beginRevert("a", now: t0)
        #expect(l.abortRevert("a", reason: PatchReason(.revertFailed, "revert failed: EINVAL"), now: t0).to == .applied)
        #expect(l["a"]?.desired == true)
    }

    @Test("requests on patches in the wrong state are refused with the state named")
    func invalidRequests() {
        var l = ledger(verified("s"), .rejected(PatchDescriptor(name: "r"), reason: PatchReason(.badSignature, "bad signature")))
        #expect(throws: PatchLedger.RequestError.noSuchPatch("nope")) { try l.requestApply("nope", runningRelease: testRelease) }
        #expect {
            try l.requestApply("r", runningRelease: testRelease)
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

@Suite("Status summary")
struct SummaryTests {
    @Test("counts per state, and failed or rejected patches make it degraded")
    func summary() {
        var l = ledger(verified("a"), verified("b"), .rejected(PatchDescriptor(name: "r"), reason: PatchReason(.badSignature, "bad signature")))
        l.applyFully("a")
        let kernel = KernelSupport(
            release: testRelease, livepatch: true, ftrace: true, lockdown: "none", signatureEnforced: false, taint: 0,
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
            release: testRelease, livepatch: false, ftrace: nil, lockdown: nil, signatureEnforced: nil, taint: nil, simulated: false)
        let summary = l.summary(policy: Policy(), kernel: kernel, now: t0 + .seconds(61))
        #expect(summary.problems == ["a applying for longer than transition_timeout"])
        #expect(summary.line.contains("nothing can be applied"))
    }
}
