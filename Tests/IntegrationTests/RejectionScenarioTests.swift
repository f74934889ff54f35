import Foundation
import LivepatchAPI
import LivepatchCore
import Testing

/// Bad bundles are rejected with their reason, change nothing, and the daemon keeps serving.
@Suite("Rejecting bad bundles", .serialized, .timeLimit(.minutes(5)))
struct RejectionScenarioTests {
    @Test("each bad bundle is rejected with its own reason and never loaded")
    func rejections() async throws {
        let sandbox = try Sandbox()
        try await sandbox.start()
        let good = try sandbox.module("good.ko", name: "placeholder", functions: ["vmlinux:f"])

        let badSignature = try sandbox.handmadeBundle(
            "bad_signature", module: try sandbox.module("bs.ko", name: "bad_signature", functions: ["vmlinux:f"]),
            signer: SigningKey())
        let hashMismatch = try sandbox.handmadeBundle(
            "hash_mismatch", module: try sandbox.module("hm.ko", name: "hash_mismatch", functions: ["vmlinux:f"])
        ) { $0.sha256 = String(repeating: "0", count: 64) }
        let wrongKernel = try sandbox.handmadeBundle(
            "wrong_kernel",
            module: try sandbox.module("wk.ko", name: "wrong_kernel", release: "5.10.0-30-amd64", functions: ["vmlinux:f"]))
        let notLivepatch = try sandbox.handmadeBundle(
            "not_livepatch",
            module: try sandbox.module("nl.ko", name: "not_livepatch", functions: [], livepatch: false))
        let nameMismatch = try sandbox.handmadeBundle("name_mismatch", module: good)

        for bundle in [badSignature, hashMismatch, wrongKernel, notLivepatch, nameMismatch] { try sandbox.drop(bundle) }
        let expected = [
            "bad_signature": "bad signature", "hash_mismatch": "hash mismatch", "wrong_kernel": "wrong kernel",
            "not_livepatch": "not a livepatch module", "name_mismatch": "name mismatch",
        ]
        for (name, reason) in expected {
            let patch = try await sandbox.waitFor(name, .rejected)
            #expect(patch.reason?.hasPrefix(reason) == true, "\(name): \(patch.reason ?? "no reason")")
            // The code is the reason's first words, for scripts: "hash mismatch" is hash-mismatch.
            let code = name == "not_livepatch" ? "not-livepatch" : name.replacingOccurrences(of: "_", with: "-")
            #expect(patch.reasonCode == code, "\(name): \(patch.reasonCode ?? "no code")")
        }
        #expect(sandbox.loadedModules.isEmpty)

        // Rejected patches make the host degraded: status exits 1 and says why.
        let status = try sandbox.lpclient("status")
        #expect(status.status == 1, "\(status)")
        #expect(status.stdout.contains("name_mismatch"))

        // The daemon still serves and still applies good bundles.
        try sandbox.drop(try sandbox.bundle("still_serving"))
        try await sandbox.waitFor("still_serving", .applied)
    }

    @Test("a rejected module is read once: later directory events do not read it again until it changes")
    func judgedOnce() async throws {
        let sandbox = try Sandbox()
        try await sandbox.start()
        let big = "\(sandbox.staging)/big.ko"
        try Data(count: 16 << 20).write(to: URL(fileURLWithPath: big))
        let bundle = try sandbox.handmadeBundle("big_mismatch", module: big) { $0.sha256 = String(repeating: "0", count: 64) }
        try sandbox.drop(bundle)
        try await sandbox.waitFor("big_mismatch", .rejected)
        #expect(try sandbox.lpclient("rescan").status == 0)  // the one more look a new bundle gets
        let pid = try #require(sandbox.daemon?.processIdentifier)
        func bytesRead() throws -> Int {
            let io = try String(contentsOfFile: "/proc/\(pid)/io", encoding: .utf8)
            let line = io.split(separator: "\n").first { $0.hasPrefix("rchar:") } ?? ""
            return Int(line.split(separator: " ").last ?? "") ?? -1
        }
        let before = try bytesRead()
        for index in 0..<5 {
            try "unrelated \(index)\n".write(toFile: "\(sandbox.incoming)/notes-\(index).txt", atomically: true, encoding: .utf8)
        }
        #expect(try sandbox.lpclient("rescan").status == 0)  // returns once the directory was read
        let read = try bytesRead() - before
        #expect(read < 2 << 20, "read \(read) bytes after 5 unrelated files and a rescan; the 16 MiB module was judged already")
        // Changed, it is read again.
        try Data(count: 1 << 20).write(to: URL(fileURLWithPath: "\(sandbox.incoming)/big_mismatch.ko"))
        let changed = try await eventually("the changed module to be judged again") {
            let patch = try sandbox.patch("big_mismatch")
            return (patch?.reason?.contains("has sha256 30e14955") == true, patch?.reason)
        }
        #expect(changed != nil)
    }

    @Test("an unparseable manifest is listed under its file name, rejected with the reason")
    func unparseable() async throws {
        let sandbox = try Sandbox()
        try await sandbox.start()
        try Data("{\"format\": 1, \"name\": ".utf8).write(to: URL(fileURLWithPath: "\(sandbox.incoming)/broken.json"))
        let patch = try await sandbox.waitFor("broken", .rejected)
        #expect(patch.reason?.hasPrefix("malformed manifest") == true, "\(patch.reason ?? "")")
    }

    @Test("a manifest whose module never arrives is pending, then rejected after settle_timeout")
    func settle() async throws {
        let sandbox = try Sandbox(["settle_timeout": "\"1s\""])
        try await sandbox.start()
        let bundle = try sandbox.bundle("never_complete")
        try sandbox.drop([bundle.manifest, bundle.signature])
        // Pending first for the signature still being copied, then for the module alone.
        _ = try await eventually("never_complete to wait for its module") {
            let patch = try sandbox.patch("never_complete")
            return (patch?.state == .pending && patch?.reason == "waiting for never_complete.ko", patch)
        }
        let rejected = try await sandbox.waitFor("never_complete", .rejected)
        #expect(rejected.reason?.contains("settle timeout") == true, "\(rejected.reason ?? "")")
        // Later scans do not bring it back to pending while the module is still missing.
        try sandbox.drop(try sandbox.bundle("another"))
        try await sandbox.waitFor("another", .applied)
        #expect(try sandbox.lpclient("rescan").status == 0)
        #expect(try sandbox.patch("never_complete")?.state == .rejected)
        // The module arrives at last: now it verifies.
        try sandbox.drop([bundle.module])
        try await sandbox.waitFor("never_complete", .applied)
    }

    @Test("a symlink in the patch directory is rejected, never followed")
    func symlink() async throws {
        let sandbox = try Sandbox()
        try await sandbox.start()
        let bundle = try sandbox.bundle("linked")
        try sandbox.drop([bundle.manifest, bundle.signature])
        try FileManager.default.createSymbolicLink(atPath: "\(sandbox.incoming)/linked.ko", withDestinationPath: bundle.module)
        let patch = try await sandbox.waitFor("linked", .rejected)
        #expect(patch.reason?.hasPrefix("unsafe file") == true, "\(patch.reason ?? "")")
        #expect(sandbox.loadedModules.isEmpty)
    }
}

/// The kernel misbehaves: transitions stall, loads fail.
@Suite("Kernel failures", .serialized, .timeLimit(.minutes(5)))
struct KernelFailureScenarioTests {
    @Test("a stalled transition names its blocking task, then is reverted after the timeout and fails")
    func stalled() async throws {
        // Long enough that the polls below surely see the transition running: each spawns
        // lpclient, which on a loaded 2-core machine has taken longer than a 3 s timeout.
        let sandbox = try Sandbox(["transition_timeout": "\"15s\""])
        try sandbox.inject("stall", "stuck_patch\n")
        try await sandbox.start()
        try sandbox.drop(try sandbox.bundle("stuck_patch"))
        try await sandbox.waitFor("stuck_patch", .applying)
        let blocked: Patch? = try await eventually("blocking tasks to be reported") {
            let patch = try sandbox.patch("stuck_patch")
            return (patch?.blockingTasks.isEmpty == false, patch)
        }
        #expect(blocked?.blockingTasks.first?.comm == "sim-stalled")
        let show = try sandbox.lpclient("show", "stuck_patch")
        #expect(show.stdout.contains("sim-stalled"), "\(show)")

        let failed = try await sandbox.waitFor("stuck_patch", .failed, timeout: .seconds(60))
        #expect(failed.reason?.contains("did not finish within 15s") == true, "\(failed.reason ?? "")")
        #expect(failed.reason?.contains("reverted") == true)
        #expect(sandbox.loadedModules.isEmpty, "the module must be unloaded after the rollback")
        #expect(try sandbox.lpclient("status").status == 1)
    }

    @Test("a refused load in the kernel's own words: lpclient list, show and apply give them, the errno once, a hint, no store path")
    func refusalInTheKernelsWords() async throws {
        let sandbox = try Sandbox()
        // What a 6.1 kernel logs around test-state.sh's refused load, the other patch's lines included.
        try sandbox.inject(
            "fail-load",
            """
            old_state EINVAL <5>livepatch: 'new_state': patching complete
            old_state EINVAL <3>livepatch: Livepatch patch (old_state) is not compatible with the already installed livepatches.
            old_state EINVAL <6>new_state: fix_console_loglevel: taking over the console_loglevel change

            """)
        try await sandbox.start()
        try sandbox.drop(try sandbox.bundle("old_state", replace: true))
        let failed = try await sandbox.waitFor("old_state", .failed)
        let reason = """
            load failed: the kernel said "livepatch: Livepatch patch (old_state) is not compatible with the already installed \
            livepatches." (Invalid argument); hint: a newer cumulative patch holds a newer state version
            """
        #expect(failed.reason == reason)

        let list = try sandbox.lpclient("list")
        #expect(list.stdout.split(separator: "\n").contains { $0.hasPrefix("old_state") && $0.hasSuffix(reason) }, "\(list)")
        let show = try sandbox.lpclient("show", "old_state")
        #expect(show.stdout.contains(reason), "\(show)")
        let apply = try sandbox.lpclient("apply", "old_state")
        #expect(apply.status == 1)
        #expect(apply.stdout.contains("old_state is failed, not applied: \(reason)"), "\(apply)")
        #expect(try sandbox.patch("old_state")?.reason == reason, "the same words the second time")
    }

    @Test("a module the kernel refuses fails with the load error and is not retried")
    func loadFailure() async throws {
        let sandbox = try Sandbox()
        try sandbox.inject("fail-load", "refused\n")
        try await sandbox.start()
        try sandbox.drop(try sandbox.bundle("refused"))
        let failed = try await sandbox.waitFor("refused", .failed)
        #expect(failed.reason?.contains("load failed") == true, "\(failed.reason ?? "")")
        try sandbox.inject("fail-load", "")
        // Not retried by itself, not even after a restart.
        sandbox.stop()
        try await sandbox.start()
        try sandbox.drop(try sandbox.bundle("canary"))
        try await sandbox.waitFor("canary", .applied)
        #expect(try sandbox.patch("refused")?.state == .failed)
        // An operator applies it again: now it works.
        #expect(try sandbox.lpclient("apply", "refused").status == 0)
        #expect(try sandbox.patch("refused")?.state == .applied)
    }
}
