import Foundation
import LivepatchCore
import Testing

/// What the kernel logged while a step ran, as journald has it, and what of it concerns the patch.
@Suite("KernelMessages")
struct KernelMessagesTests {
    /// test-state.sh's "incompatible cumulative livepatches", with the lines that surround the
    /// refusal on a real 6.1 kernel: test_klp_state2's own, and a taint notice.
    static let klpStateMoment: [KernelLogLine] = [
        KernelLogLine("livepatch: 'test_klp_state2': patching complete", priority: 5),
        KernelLogLine("test_klp_state2: fix_console_loglevel: fixing console_loglevel", priority: 6),
        KernelLogLine("test_klp_state: loading out-of-tree module taints kernel.", priority: 4),
        KernelLogLine(
            "livepatch: Livepatch patch (test_klp_state) is not compatible with the already installed livepatches.",
            priority: 3),
        KernelLogLine("livepatch: 'test_klp_state2': starting unpatching transition", priority: 4),
    ]

    @Test("only the refusal: not the other patch's lines, even when one name is a prefix of the other, nor taint notices")
    func incompatibleState() {
        #expect(
            KernelMessages.about("test_klp_state", in: Self.klpStateMoment) == [
                "livepatch: Livepatch patch (test_klp_state) is not compatible with the already installed livepatches."
            ])
        #expect(
            KernelMessages.about("test_klp_state2", in: Self.klpStateMoment) == [
                "livepatch: 'test_klp_state2': starting unpatching transition"
            ])
    }

    /// For a patch lp_x.
    @Test(
        "each way the kernel refuses a livepatch, in its own words",
        arguments: [
            // The module loader names the module (pr_warn).
            (KernelLogLine("lp_x: Unknown symbol lp_no_such_symbol (err -2)", priority: 4), true),
            // livepatch names only the symbol (pr_err).
            (KernelLogLine("livepatch: symbol 'lp_no_such_function' not found in symbol table", priority: 3), true),
            (KernelLogLine("livepatch: unresolvable ambiguity for symbol 'f' in object 'vmlinux'", priority: 3), true),
            // Signature enforcement and lockdown log at notice level, without a module name.
            (KernelLogLine("Loading of unsigned module is rejected", priority: 5), true),
            (KernelLogLine("Lockdown: livepatchd: unsigned module loading is restricted; see man kernel_lockdown.7", priority: 5), true),
            (KernelLogLine("livepatch: pre-patch callback failed for object 'vmlinux'", priority: 4), true),
            (KernelLogLine("livepatch: failed to enable patch 'lp_x'", priority: 4), true),
            // The patch's own progress and its callbacks' chatter say nothing about a refusal.
            (KernelLogLine("livepatch: enabling patch 'lp_x'", priority: 5), false),
            (KernelLogLine("lp_x: pre_patch_callback: vmlinux", priority: 6), false),
            (KernelLogLine("lp_x: module verification failed: signature and/or required key missing - tainting kernel", priority: 5), false),
            // Someone else's.
            (KernelLogLine("livepatch: 'lp_other': starting patching transition", priority: 4), false),
            (KernelLogLine("lp_xy: Unknown symbol g (err -2)", priority: 4), false),
            (KernelLogLine("livepatch: Livepatch patch (lp_y) is not compatible with the already installed livepatches.", priority: 3), false),
            (KernelLogLine("livepatch: failed to enable patch 'lp_y'", priority: 4), false),
            (KernelLogLine("e1000: eth0 NIC Link is Up", priority: 6), false),
        ])
    func refusalLines(line: KernelLogLine, concerns: Bool) {
        #expect(KernelMessages.about("lp_x", in: [line]).isEmpty == !concerns, "\(line.text)")
    }

    @Test("a storm of lines is bounded in number and length")
    func bounded() {
        let storm = (0..<100).map { KernelLogLine("lp_x: Unknown symbol sym\($0)_\(String(repeating: "y", count: 400)) (err -2)", priority: 4) }
        let said = KernelMessages.about("lp_x", in: storm)
        #expect(said.count == KernelMessages.lineLimit)
        #expect(said.allSatisfy { $0.count <= KernelMessages.lengthLimit })
        #expect(said.first?.hasPrefix("lp_x: Unknown symbol sym0_") == true)
    }

    @Test(
        "a hint for the common cases",
        arguments: [
            ("livepatch: Livepatch patch (a) is not compatible with the already installed livepatches.", 0 as Int32,
             "a newer cumulative patch holds a newer state version"),
            ("a: Unknown symbol f (err -2)", 0, "built for another kernel build"),
            ("livepatch: symbol 'f' not found in symbol table", 0, "built for another kernel build"),
            ("Loading of unsigned module is rejected", 0, "sign the module with a key the kernel trusts"),
            ("", EKEYREJECTED, "sign the module with a key the kernel trusts"),
        ])
    func hints(line: String, errno: Int32, hint: String) {
        #expect(KernelMessages.hint(for: line.isEmpty ? [] : [line], errno: errno == 0 ? nil : errno) == hint)
    }

    @Test("no hint without a known cause")
    func noHint() {
        #expect(KernelMessages.hint(for: [], errno: EEXIST) == nil)
        #expect(KernelMessages.hint(for: ["livepatch: failed to enable patch 'a'"], errno: EINVAL) == nil)
    }
}

@Suite("A failed step in words")
struct StepErrorDetailTests {
    @Test("the kernel's words, then the errno once, then the hint")
    func kernelWords() {
        let error = PatchMachine.StepError(
            "the kernel refused the module", errno: EINVAL,
            kernelMessages: ["livepatch: Livepatch patch (a) is not compatible with the already installed livepatches."])
        #expect(
            error.detail
                == "the kernel said \"livepatch: Livepatch patch (a) is not compatible with the already installed livepatches.\" (Invalid argument); hint: a newer cumulative patch holds a newer state version"
        )
    }

    @Test("several lines are quoted one by one")
    func severalLines() {
        let error = PatchMachine.StepError(
            "the kernel refused the module", errno: ENOENT,
            kernelMessages: ["a: Unknown symbol f (err -2)", "a: Unknown symbol g (err -2)"])
        #expect(
            error.detail
                == "the kernel said \"a: Unknown symbol f (err -2)\", \"a: Unknown symbol g (err -2)\" (No such file or directory); hint: built for another kernel build"
        )
    }

    @Test("without the kernel's words: the daemon's, the errno once, no hint")
    func daemonWords() {
        #expect(PatchMachine.StepError("the kernel refused the module", errno: EEXIST).detail == "the kernel refused the module (File exists)")
        #expect(PatchMachine.StepError("the patch directory cannot be read").detail == "the patch directory cannot be read")
    }
}
