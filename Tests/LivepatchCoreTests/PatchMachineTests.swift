import Foundation
import LivepatchAPI
import Testing

@testable import LivepatchCore

private func policy(_ apply: Policy.ApplyMode = .auto, delay: Duration = .zero, timeout: Duration = .seconds(60), force: Bool = false)
    -> Policy
{
    var policy = Policy()
    policy.apply = apply
    policy.applyDelay = delay
    policy.transitionTimeout = timeout
    policy.forceAfterTimeout = force
    return policy
}

@Suite("Machine: policy decides what is applied")
struct MachinePolicyTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var label: String
        var policy: Policy
        var release = testRelease
        var unsupported: String? = nil
        /// Seconds after the arrival the machine is asked again.
        var after: Double = 0
        var loaded: Bool
        var testDescription: String { label }
    }

    static let cases: [Case] = [
        Case(label: "auto, no delay: applied at once", policy: policy(), loaded: true),
        Case(label: "auto, 60 s delay, 59 s later: still staged", policy: policy(delay: .seconds(60)), after: 59, loaded: false),
        Case(label: "auto, 60 s delay, 60 s later: applied", policy: policy(delay: .seconds(60)), after: 60, loaded: true),
        Case(label: "manual: staged until an operator applies it", policy: policy(.manual), after: 3600, loaded: false),
        Case(label: "built for another kernel: never loaded", policy: policy(), release: "6.1.0-other", after: 3600, loaded: false),
        Case(label: "no livepatch support: nothing is loaded", policy: policy(), unsupported: "no /sys/kernel/livepatch", loaded: false),
    ]

    @Test(arguments: cases)
    func decides(_ c: Case) {
        var h = MachineHarness(verified("a", release: c.release), policy: c.policy, unsupported: c.unsupported)
        h.run()
        #expect(h.ready)
        if c.after > 0 { h.advance(by: c.after) }
        #expect(h.kernelSteps == (c.loaded ? ["load a"] : []))
        #expect(h.state("a") == (c.loaded ? .applied : .staged))
    }

    @Test("an apply delay wakes the machine exactly when it ends")
    func delayWakes() {
        var h = MachineHarness(verified("a"), policy: policy(delay: .seconds(60)))
        h.run()
        #expect(h.wake == t0 + .seconds(60))
    }

    @Test("another kernel's patch is staged with its reason, and an apply request is refused")
    func otherKernelRefused() {
        var h = MachineHarness(verified("a", release: "6.1.0-other"))
        h.run()
        #expect(h["a"]?.reason?.message == "built for kernel 6.1.0-other, running \(testRelease): applied when that kernel boots")
        #expect(throws: PatchLedger.RequestError.self) { try h.requestApply("a") }
    }

    @Test("an apply request on a kernel without livepatch says why")
    func unsupportedRefused() {
        var h = MachineHarness(verified("a"), unsupported: "no /sys/kernel/livepatch")
        h.run()
        #expect(throws: PatchLedger.RequestError.notSupported(reason: "no /sys/kernel/livepatch")) { try h.requestApply("a") }
    }

    @Test("a pending patch wakes the machine when its settle timeout ends, and is then rejected")
    func pendingSettles() {
        var h = MachineHarness(.incomplete(PatchDescriptor(name: "a", manifestFile: "a.json"), waitingFor: "a.ko"))
        h.run()
        #expect(h.wake == t0 + .seconds(30))
        h.advance()
        #expect(h.state("a") == .rejected)
        #expect(h["a"]?.reason?.message.contains("a.ko") == true)
    }
}

@Suite("Machine: start, apply, revert")
struct MachineLifecycleTests {
    @Test("start: the kernel is read, then the directory, then what is due; READY after it is applied")
    func start() {
        var h = MachineHarness(verified("a"))
        h.run()
        #expect(h.steps.prefix(2) == [.read, .scan])
        #expect(h.kernelSteps == ["load a"])
        #expect(h.state("a") == .applied)
        #expect(h.changes.map(\.to) == [.staged, .applying, .applied])
        #expect(h.ready)
    }

    @Test("the load is saved before it is asked for: the record says whose module it is")
    func savedBeforeLoad() {
        var h = MachineHarness(verified("a"))
        h.run(until: { $0.asked.map { if case .load = $0 { true } else { false } } ?? false })
        #expect(h.state("a") == .applying)
        let actions = h.machine.handle(.tick, now: h.now)
        #expect(actions.isEmpty, "nothing else while the load runs")
        #expect(h.saves > 0)
    }

    @Test("a load the kernel refuses fails with its error and is not retried until asked")
    func loadFailure() throws {
        var h = MachineHarness(verified("a"))
        h.inject[.load] = .failed(.init("the kernel refused the module", errno: EINVAL))
        h.run()
        #expect(h.state("a") == .failed)
        #expect(h["a"]?.reason == PatchReason(.loadFailed, "load failed: the kernel refused the module (Invalid argument)"))
        h.advance(by: 3600)
        #expect(h.kernelSteps == ["load a"])
        try h.requestApply("a")
        h.run()
        #expect(h.state("a") == .applied)
    }

    @Test("a load the kernel refuses and explains: its words in the reason and kept for the journal, until the next state")
    func loadRefusedWithKernelWords() throws {
        var h = MachineHarness(verified("a"))
        let said = ["a: Unknown symbol f (err -2)"]
        h.inject[.load] = .failed(.init("the kernel refused the module", errno: ENOENT, kernelMessages: said))
        h.run()
        #expect(h.state("a") == .failed)
        #expect(
            h["a"]?.reason
                == PatchReason(
                    .loadFailed,
                    "load failed: the kernel said \"a: Unknown symbol f (err -2)\" (No such file or directory); hint: built for another kernel build",
                    kernelMessages: said))
        #expect(h.changes.last?.record.reason?.kernelMessages == said, "the failed change carries them to the journal")
        try h.requestApply("a")
        h.run()
        #expect(h.state("a") == .applied)
        #expect(h["a"]?.reason == nil)
    }

    @Test("revert: disable, wait, unload, reverted and no longer wanted")
    func revert() throws {
        var h = MachineHarness(verified("a"))
        h.run()
        try h.requestRevert("a")
        h.run()
        #expect(h.kernelSteps == ["load a", "disable a", "unload a"])
        #expect(h.state("a") == .reverted)
        #expect(h["a"]?.desired == false)
        #expect(h.modules.isEmpty)
    }

    @Test("a disable the kernel refuses keeps the patch applied and wanted, and is not retried in a loop")
    func disableRefused() throws {
        var h = MachineHarness(verified("a"))
        h.run()
        h.inject[.disable] = .failed(.init("cannot write enabled", errno: EBUSY))
        try h.requestRevert("a")
        h.run()
        #expect(h.state("a") == .applied)
        #expect(h["a"]?.reason?.message == "revert failed: cannot write enabled (Device or resource busy)")
        #expect(h.kernelSteps == ["load a", "disable a"])
    }

    @Test("reverting a patch with another stacked on top is refused, naming it; the top can go")
    func stacking() throws {
        var h = MachineHarness(verified("a", functions: ["vmlinux:f"]), verified("b", functions: ["vmlinux:f"]))
        h.run()
        #expect(throws: PatchLedger.RequestError.self) { try h.requestRevert("a") }
        try h.requestRevert("b")
        h.run()
        try h.requestRevert("a")
        h.run()
        #expect(h.kernelSteps == ["load a", "load b", "disable b", "unload b", "disable a", "unload a"])
    }

    @Test("a replace patch supersedes the others, foreign ones included; ours are unloaded, foreign ones left")
    func replace() {
        var h = MachineHarness(verified("a"))
        h.foreignLoad("x")
        h.run()
        h.drop(verified("r", replace: true))
        h.rescan()
        #expect(h.notes.contains(.willSupersede("r", others: ["a", "x"])))
        #expect(h.state("r") == .applied)
        #expect(h.state("a") == .superseded)
        #expect(h.state("x") == .superseded)
        #expect(h.modules == ["r", "x"])
    }

    @Test("a patch the kernel disables as a replace transition ends is superseded, not 'disabled outside'")
    func replaceEndingDisablesFirst() {
        var h = MachineHarness(verified("a"), verified("r", replace: true))
        h.stalled = ["r"]
        h.run(until: { $0.state("r") == .applying })
        // klp_complete_transition: the replaced patch is disabled, r's transition still reads 1.
        h.patches["a"]?.enabled = false
        h.run(limit: 20, expectIdle: false)
        #expect(h.kernelSteps == ["load a", "load r"])
        #expect(h.state("a") == .applied)
        #expect(!h.notes.contains(.disabledOutside("a")))
        h.stalled = []
        h.advance(by: 1)
        #expect(h.state("r") == .applied)
        #expect(h.state("a") == .superseded)
        #expect(h.modules == ["r"])
    }

    @Test("a superseded module the kernel still holds is waited for, and retried while busy, until it lets go")
    func busyUnloadRetried() {
        var h = MachineHarness(verified("a"), verified("r", replace: true))
        // The kernel frees the replaced patch in a work item after the transition: still in sysfs.
        h.lingerReplaced = true
        h.run(limit: 50, expectIdle: false)
        #expect(h.state("a") == .superseded)
        #expect(h.modules.contains("a"))
        #expect(!h.kernelSteps.contains("unload a"), "not while it is in sysfs")
        h.patches["a"] = nil
        h.inject[.unload] = .failed(.init("busy", errno: EBUSY))
        h.run(until: { $0.kernelSteps.contains("unload a") })
        h.answer()
        h.advance()
        h.advance()
        #expect(h.modules == ["r"])
        #expect(h.kernelSteps.filter { $0 == "unload a" }.count == 2)
    }
}

@Suite("Machine: transition_timeout")
struct MachineTimeoutTests {
    @Test("a stuck apply is rolled back: disabled, unloaded, failed with the blocking task named")
    func rollback() {
        var h = MachineHarness(verified("a"), policy: policy(timeout: .seconds(10)))
        h.stalled = ["a"]
        h.run(until: { $0.machine.ledger["a"]?.rollbackReason != nil })
        #expect(h.notes.contains(.blocked("a", state: .applying, tasks: [BlockingTask(pid: 42, comm: "stuck")])))
        h.stalled = []
        h.run()
        #expect(h.kernelSteps == ["load a", "disable a", "unload a"])
        #expect(h.state("a") == .failed)
        #expect(h["a"]?.reason == PatchReason(.transitionTimeout, "transition did not finish within 10s (blocked by stuck[42]); reverted"))
        #expect(h.now >= t0 + .seconds(10))
        #expect(h.modules.isEmpty)
    }

    @Test("with force_after_timeout the stuck apply is forced instead, once")
    func force() {
        var h = MachineHarness(verified("a"), policy: policy(timeout: .seconds(10), force: true))
        h.stalled = ["a"]
        h.run()
        #expect(h.kernelSteps == ["load a", "force a"])
        #expect(h.state("a") == .applied)
    }

    @Test("a stuck revert is waited for, said once per timeout, and does not hold up READY")
    func stuckRevert() throws {
        var h = MachineHarness(verified("a"), policy: policy(timeout: .seconds(10)))
        h.run()
        try h.requestRevert("a")
        h.stalled = ["a"]
        h.run(limit: 200, expectIdle: false)
        #expect(h.state("a") == .reverting)
        let warnings = h.notes.filter { if case .stillWaiting("a", "revert", _, _) = $0 { true } else { false } }
        #expect(warnings.count > 0)
        #expect(warnings.count <= Int(h.now.timeIntervalSince(t0) / 10), "at most once per transition_timeout")
        h.restart()
        h.run(limit: 50, expectIdle: false)
        #expect(h.ready, "READY=1 although the revert is stuck")
    }

    @Test("a restart between saving a rollback and writing enabled=0 disables it first")
    func resumedRollback() {
        var l = ledger(verified("a"))
        _ = l.beginApply("a", now: t0)
        l.beginRollback("a", reason: PatchReason(.transitionTimeout, "transition did not finish within 60s; reverted"))
        var h = MachineHarness(ledger: l)
        h.foreignLoad("a", inTransition: true)
        h.run()
        #expect(h.kernelSteps == ["disable a", "unload a"])
        #expect(h.state("a") == .failed)
        #expect(h["a"]?.desired == false)
    }
}

@Suite("Machine: the kernel's view wins")
struct MachineReconcileTests {
    @Test("after a reboot desired patches are applied again in the order they were enabled, before READY")
    func reboot() {
        var l = ledger(verified("b_first", functions: ["vmlinux:f"]), verified("a_later", functions: ["vmlinux:f"]))
        l.applyFully("b_first")
        l.applyFully("a_later")
        var h = MachineHarness(ledger: l)
        h.functions = ["b_first": ["vmlinux:f"], "a_later": ["vmlinux:f"]]
        h.reboot()
        h.steps = []
        h.run()
        #expect(h.kernelSteps == ["load b_first", "load a_later"])
        #expect(h.ready)
        #expect(h.machine.ledger.stackedAbove("b_first") == ["a_later"])
    }

    @Test("a patch disabled by hand (module still loaded) is reverted with the reason, not applied again")
    func disabledByHand() throws {
        var h = MachineHarness(verified("a"))
        h.run()
        h.patches["a"] = nil  // echo 0 > enabled, the transition over; rmmod not run
        h.send(.rescanRequested)
        h.run()
        #expect(h.state("a") == .reverted)
        #expect(h["a"]?.reason?.code == .disabledOutside)
        #expect(h["a"]?.reason?.message.contains("disabled outside livepatchd") == true)
        #expect(h.notes.contains(.disabledOutside("a")))
        #expect(h.modules == ["a"], "its module is the operator's to remove")
        h.restart()
        h.advance(by: 3600)
        #expect(h.kernelSteps == ["load a"], "not applied again, not after a restart either")
        // An operator applies it again: the old module goes first.
        try h.requestApply("a")
        h.run()
        #expect(h.kernelSteps == ["load a", "unload a", "load a"])
        #expect(h.state("a") == .applied)
    }

    @Test("a patch seen being disabled by hand is followed as a revert, and its module left loaded")
    func disabledByHandMidTransition() {
        var h = MachineHarness(verified("a"))
        h.run()
        h.patches["a"]?.enabled = false
        h.patches["a"]?.inTransition = true
        h.send(.rescanRequested)
        h.run()
        #expect(h.changes.suffix(2).map(\.to) == [.reverting, .reverted])
        #expect(h.modules == ["a"])
        #expect(h.kernelSteps == ["load a"])
    }

    @Test("a reboot (module gone too) is not a hand disable: the patch is applied again")
    func rebootIsNotHandDisable() {
        var h = MachineHarness(verified("a"))
        h.run()
        h.patches = [:]
        h.modules = []
        h.send(.rescanRequested)
        h.run()
        #expect(h.kernelSteps == ["load a", "load a"])
        #expect(h.changes.map(\.to).suffix(3) == [.staged, .applying, .applied])
    }

    @Test("patches loaded by someone else are foreign, left alone, and forgotten when they leave")
    func foreign() throws {
        var h = MachineHarness()
        h.foreignLoad("x")
        h.run()
        #expect(h.state("x") == .foreign)
        #expect(h.kernelSteps.isEmpty)
        h.patches = [:]
        h.send(.rescanRequested)
        h.run()
        #expect(h.state("x") == nil)
    }

    @Test("a foreign patch is reverted only when asked")
    func foreignRevert() throws {
        var h = MachineHarness()
        h.foreignLoad("x")
        h.run()
        try h.requestRevert("x")
        h.run()
        #expect(h.kernelSteps == ["disable x", "unload x"])
    }

    @Test("a load waits for another (foreign) transition; said once")
    func waitsForOtherTransition() {
        var h = MachineHarness(verified("a"))
        h.foreignLoad("x", inTransition: true)
        h.stalled = ["x"]
        h.run(limit: 20, expectIdle: false)
        #expect(h.kernelSteps.isEmpty)
        #expect(h.notes.filter { $0 == .waitingForTransition("a", other: "x") }.count == 1)
        #expect(h.ready, "another's transition does not hold up READY")
        h.stalled = []
        h.run()
        #expect(h.state("a") == .applied)
    }

    @Test("a staged patch found enabled is applied and wanted; a rejected name found enabled is foreign")
    func foundEnabled() {
        var h = MachineHarness(ledger: ledger(verified("a"), .rejected(PatchDescriptor(name: "r", manifestFile: "r.json"), reason: PatchReason(.badSignature, "bad"))))
        h.manifestFiles = ["a.json", "r.json"]
        h.foreignLoad("a")
        h.foreignLoad("r")
        h.run()
        #expect(h.state("a") == .applied)
        #expect(h["a"]?.reason?.message == "found enabled in the kernel")
        #expect(h.state("r") == .foreign)
        #expect(h.kernelSteps.isEmpty)
    }
}

@Suite("Reasons keep their code")
struct PatchReasonTests {
    @Test("a state file from before codes reads its reasons as unclassified messages; new ones round-trip")
    func legacyAndRoundTrip() throws {
        let legacy = try JSONDecoder().decode(PatchReason.self, from: Data(#""load failed: EINVAL""#.utf8))
        #expect(legacy == PatchReason(.unclassified, "load failed: EINVAL"))
        let reason = PatchReason(.hashMismatch, "hash mismatch: …")
        #expect(try JSONDecoder().decode(PatchReason.self, from: JSONEncoder().encode(reason)) == reason)
    }

    @Test("every rejection of the verifier has its code on the wire")
    func rejectionCodes() {
        let reason = RejectionReason.hashMismatch(module: "a.ko", expected: "00", actual: "11").patchReason
        #expect(reason.code == .hashMismatch)
        #expect(reason.code.rawValue == "hash-mismatch")
        #expect(reason.message.hasPrefix("hash mismatch: a.ko"))
        var l = ledger(.rejected(PatchDescriptor(name: "r"), reason: reason))
        #expect(l.patch("r")?.reasonCode == "hash-mismatch")
        _ = l.settle(now: t0, settleTimeout: .zero)
        #expect(l.patch("r")?.reason == reason.message)
    }
}

@Suite("Machine: what goes wrong around it")
struct MachineFaultTests {
    @Test("a version arriving while the older one waits for another transition: the load is of the version recorded")
    func versionArrivesWhileWaiting() {
        var h = MachineHarness(verified("a", digest: "v1", version: "1"))
        h.foreignLoad("x", inTransition: true)
        h.stalled = ["x"]
        h.run(limit: 20, expectIdle: false)
        #expect(h.state("a") == .staged)
        // The directory changed while the machine waits for x: v2 replaces v1 before anything loads.
        h.send(.scanned(.init(arrivals: [verified("a", digest: "v2", version: "2")], manifestFiles: ["a.json"], recheckAt: nil)))
        h.stalled = []
        h.run()
        let loads = h.steps.compactMap { if case .load(_, let path) = $0 { path } else { nil } }
        #expect(loads == ["/store/v2/a.ko"])
        #expect(h["a"]?.descriptor.version == "2")
        #expect(h.state("a") == .applied)
    }

    @Test("a version arriving while the older one's transition runs waits, and is staged when that one fails")
    func versionArrivesWhileApplying() {
        var h = MachineHarness(verified("a", digest: "v1", version: "1"), policy: policy(timeout: .seconds(10)))
        h.stalled = ["a"]
        h.run(until: { $0.state("a") == .applying })
        h.send(.scanned(.init(arrivals: [verified("a", digest: "v2", version: "2")], manifestFiles: ["a.json"], recheckAt: nil)))
        #expect(h["a"]?.descriptor.version == "1", "what the kernel runs is what is shown")
        #expect(h["a"]?.heldUpgrade?.version == "2")
        h.run(until: { $0.machine.ledger["a"]?.rollbackReason != nil })
        h.stalled = []
        h.run()
        #expect(h.changes.map { "\($0.record.descriptor.version) \($0.to)" }.suffix(4) == ["1 failed", "2 staged", "2 applying", "2 applied"])
        #expect(h.steps.compactMap { if case .load(_, let path) = $0 { path } else { nil } } == ["/store/v1/a.ko", "/store/v2/a.ko"])
    }

    @Test("a read error during a revert is not 'gone': the patch stays reverting, the read is retried with back-off")
    func readErrorDuringRevert() throws {
        var h = MachineHarness(verified("a"))
        h.run()
        try h.requestRevert("a")
        h.run(until: { if case .disable = $0.steps.last { true } else { false } })
        h.answer()
        h.failing[.read] = .init("cannot list it", errno: EMFILE)
        h.failing[.watch] = .init("cannot list it", errno: EMFILE)
        h.run(limit: 10)
        #expect(h.state("a") == .reverting)
        #expect(h.kernelSteps == ["load a", "disable a"], "nothing unloaded on an unknown state")
        #expect(h.notes.contains(.kernelUnreadable(detail: "cannot list it (Too many open files)", retryInSeconds: 1)))
        #expect(h.machine.kernelProblem?.contains("Too many open files") == true)
        h.advance()
        #expect(h.notes.last == .kernelUnreadable(detail: "cannot list it (Too many open files)", retryInSeconds: 2), "backs off")
        h.failing = [:]
        h.advance()
        #expect(h.state("a") == .reverted)
        #expect(h.notes.contains(.kernelReadable))
    }

    @Test("a read error during an apply is not 'failed': it stays applying and is followed once readable")
    func readErrorDuringApply() {
        var h = MachineHarness(verified("a"))
        h.stalled = ["a"]
        h.run(until: { $0.state("a") == .applying })
        h.failing[.read] = .init("cannot read it", errno: EIO)
        h.failing[.watch] = .init("cannot read it", errno: EIO)
        h.run(limit: 10)
        #expect(h.state("a") == .applying)
        h.failing = [:]
        h.stalled = []
        h.advance()
        #expect(h.state("a") == .applied)
    }

    @Test("a kernel unreadable at start: nothing decided, READY once the directory is read, applied when readable")
    func unreadableAtStart() {
        var h = MachineHarness(verified("a"))
        h.failing[.read] = .init("cannot read it", errno: EIO)
        h.run()
        #expect(h.ready)
        #expect(h.state("a") == .staged)
        h.failing = [:]
        h.advance()
        #expect(h.state("a") == .applied)
    }

    @Test("a manifest removed while the daemon was down: its pending record goes at the first scan")
    func removedWhileDown() {
        var l = PatchLedger()
        _ = l.arrive(.incomplete(PatchDescriptor(name: "a", manifestFile: "a.json"), waitingFor: "a.ko"), now: t0)
        var h = MachineHarness(ledger: l)
        h.run()
        #expect(h.state("a") == nil)
        #expect(h.notes.contains(.manifestRemoved("a")))
        #expect(h.saves > 0, "the removal is saved")
    }

    @Test("a load whose record cannot be saved first is not carried out; staged and tried again")
    func unsavedLoad() {
        var h = MachineHarness(verified("a"))
        h.run(until: { if case .load = $0.asked { true } else { false } })
        let load = h.asked!
        h.asked = nil
        h.send(.stepFinished(load, .notPerformed(reason: "No space left on device")))
        #expect(h.state("a") == .staged)
        #expect(h["a"]?.desired == true)
        #expect(h.wake == h.now + .seconds(10))
        h.advance()
        #expect(h.state("a") == .applied)
    }

    @Test("a rollback that finished while the daemon was away is recorded as failed")
    func rollbackFinishedWhileAway() {
        var l = ledger(verified("a"))
        _ = l.beginApply("a", now: t0)
        l.beginRollback("a", reason: PatchReason(.transitionTimeout, "transition did not finish within 60s; reverted"))
        var h = MachineHarness(ledger: l)
        h.run()
        #expect(h.state("a") == .failed)
        #expect(h.kernelSteps.isEmpty)
    }

    @Test("a daemon that died before the load loads it again; one that died mid-apply follows it")
    func diedAroundLoad() {
        var before = ledger(verified("a"))
        _ = before.beginApply("a", now: t0)
        var h = MachineHarness(ledger: before)
        h.run()
        #expect(h.kernelSteps == ["load a"])
        var during = MachineHarness(ledger: before)
        during.foreignLoad("a", inTransition: true)
        during.run()
        #expect(during.kernelSteps.isEmpty)
        #expect(during.state("a") == .applied)
    }

    @Test("a daemon that died mid-revert finishes it; one that died before writing enabled reverts again")
    func diedAroundRevert() throws {
        var l = ledger(verified("a"))
        l.applyFully("a")
        try l.requestRevert("a")
        _ = l.beginRevert("a", now: t0)
        var gone = MachineHarness(ledger: l)
        gone.run()
        #expect(gone.state("a") == .reverted)
        var notYet = MachineHarness(ledger: l)
        notYet.foreignLoad("a")
        notYet.run()
        #expect(notYet.kernelSteps == ["disable a", "unload a"])
        #expect(notYet.state("a") == .reverted)
    }
}
