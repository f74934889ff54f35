import Foundation
import LivepatchAPI
import LivepatchCore
import Testing

/// Rollout safety with the real binaries on the simulated kernel: waves, downgrades, expiry,
/// revoked keys, halt files, quarantine after a crash, and the kill switch.
@Suite("Rollout safety", .serialized)
struct RolloutScenarioTests {
    /// A machine id whose wave for `patch` is `wave` of `waves`, found with the daemon's own hash.
    static func machineID(inWave wave: Int, of waves: Int, for patch: String) -> String {
        (0...).lazy.map { String(format: "%032x", $0) }.first { Rollout.hashedWave(machineID: $0, patch: patch, waves: waves) == wave }!
    }

    /// The simulated kernel boots again: the modules and the boot id are gone.
    static func reboot(_ sandbox: Sandbox) throws {
        try FileManager.default.removeItem(atPath: "\(sandbox.kernel)/modules")
        try FileManager.default.removeItem(atPath: "\(sandbox.kernel)/boot_id")
    }

    @Test("a host in wave 2 of 4 applies at released + 2 × rollout_bake; show and status say when", .timeLimit(.minutes(3)))
    func waves() async throws {
        let sandbox = try Sandbox(["rollout_waves": "4", "rollout_bake": "\"10s\"", "machine_id_file": "\"machine-id\""])
        try (Self.machineID(inWave: 2, of: 4, for: "wave_fix") + "\n").write(
            toFile: "\(sandbox.root)/machine-id", atomically: true, encoding: .utf8)
        try await sandbox.start()
        let released = Date()
        try sandbox.drop(try sandbox.bundle("wave_fix", options: ["--released", Manifest.timestamp(released)]))
        let staged = try await sandbox.waitFor("wave_fix", .staged)
        #expect(staged.wave == 2)
        let applyAt = try #require(staged.applyAt.flatMap(RFC3339.date(from:)))
        #expect(abs(applyAt.timeIntervalSince(released) - 20) < 1.5, "released + 2 × 10 s (released has whole seconds): \(staged.applyAt ?? "")")
        let status = try sandbox.lpclient("status")
        #expect(status.status == 0, "waiting for its wave is not degraded: \(status)")
        #expect(status.stdout.contains("next: wave_fix at"), "\(status.stdout)")
        let show = try sandbox.lpclient("show", "wave_fix")
        #expect(show.stdout.contains("wave 2, applies at"), "\(show.stdout)")
        let applied = try await sandbox.waitFor("wave_fix", .applied, timeout: .seconds(60))
        let appliedAt = try #require(RFC3339.date(from: applied.since))
        #expect(appliedAt >= applyAt.addingTimeInterval(-0.05), "applied at \(applied.since), not before \(staged.applyAt ?? "")")
    }

    @Test("an older bundle replayed is refused, also after a restart; the applied version stays")
    func downgrade() async throws {
        let sandbox = try Sandbox()
        try await sandbox.start()
        let v2 = try sandbox.bundle("replayed", version: "2", options: ["--sequence", "5"])
        let v1 = try sandbox.bundle("replayed", version: "1", options: ["--sequence", "3"])
        try sandbox.drop(v2)
        try await sandbox.waitFor("replayed", .applied)
        try sandbox.drop(v1)
        let refused = try await eventually("the replay to be refused") {
            let patch = try sandbox.patch("replayed")
            return (patch?.reasonCode == "downgrade", patch)
        }
        #expect(refused?.state == .applied)
        #expect(refused?.version == "2")
        #expect(refused?.reason?.contains("sequence 3 is lower than 5") == true, "\(refused?.reason ?? "")")
        #expect(try sandbox.lpclient("status").status == 1, "a refused bundle is degraded")
        #expect(sandbox.loadLog == ["replayed"])

        // After a restart and a reboot, with only the old bundle in the directory: the newer one
        // is applied again from the store, the old one refused.
        sandbox.stop()
        try Self.reboot(sandbox)
        try await sandbox.start()
        let after = try #require(try sandbox.patch("replayed"))
        #expect(after.state == .applied && after.version == "2", "\(after)")
        #expect(after.reasonCode == "downgrade")
        #expect(sandbox.loadLog == ["replayed", "replayed"], "version 2 again, the old module never")
        let running = try #require(try SimulatedKernelFiles(root: sandbox.kernel).modules()["replayed"])
        #expect(running.functions == ["vmlinux:replayed_target"])
    }

    @Test("a bundle that arrives after its not_after is rejected as expired")
    func expired() async throws {
        let sandbox = try Sandbox()
        try await sandbox.start()
        try sandbox.drop(
            try sandbox.bundle("stale", options: ["--released", "2026-01-01T00:00:00Z", "--not-after", "2026-02-01T00:00:00Z"]))
        let patch = try await sandbox.waitFor("stale", .rejected)
        #expect(patch.reasonCode == "expired")
        #expect(patch.reason?.contains("2026-02-01") == true, "\(patch.reason ?? "")")
        #expect(sandbox.loadLog.isEmpty)
    }

    @Test("a key listed in keys_dir/revoked stops verifying at the reload; the other trusted key keeps working")
    func revokedKey() async throws {
        let sandbox = try Sandbox(["apply": "\"manual\""])
        let keygen = try run(Binaries.path("lpbundle"), ["keygen", "--name", "second", "--out", sandbox.keys])
        #expect(keygen.status == 0)
        try await sandbox.start()
        try sandbox.drop(try sandbox.bundle("by_second", key: "second"))
        try sandbox.drop(try sandbox.bundle("by_test"))
        try await sandbox.waitFor("by_second", .staged)
        try await sandbox.waitFor("by_test", .staged)
        try "# leaked on 2026-12-01\nsecond\n".write(toFile: "\(sandbox.keys)/revoked", atomically: true, encoding: .utf8)
        sandbox.signal(SIGHUP)
        let rejected = try await sandbox.waitFor("by_second", .rejected)
        #expect(rejected.reasonCode == "bad-signature")
        #expect(rejected.reason?.contains("second, which is revoked") == true, "\(rejected.reason ?? "")")
        #expect(try sandbox.patch("by_test")?.state == .staged)
    }

    @Test("a signed halt file stops a staged patch, a forged one halts nothing, removing it resumes the rollout")
    func halt() async throws {
        let sandbox = try Sandbox(["rollout_waves": "2", "rollout_wave": "1", "rollout_bake": "\"1h\""])
        try await sandbox.start()
        try sandbox.drop(try sandbox.bundle("halted_fix"))
        try await sandbox.waitFor("halted_fix", .staged)
        // Forged: signed by a key nobody trusts.
        let forged = try run(Binaries.path("lpbundle"), ["keygen", "--name", "forger", "--out", "\(sandbox.root)/forger"])
        #expect(forged.status == 0)
        try sandbox.drop(try sandbox.halt("halted_fix", keyFile: "\(sandbox.root)/forger/forger.key"))
        let status = try await eventually("the forged halt to be reported") {
            let status = try sandbox.lpclient("status")
            return (status.stdout.contains("halt file halted_fix.halt is ignored"), status)
        }
        #expect(status.status == 1)
        #expect(try sandbox.patch("halted_fix")?.state == .staged)

        try sandbox.drop(try sandbox.halt("halted_fix", options: ["--reason", "oops on canaries"]))
        let halted = try await sandbox.waitFor("halted_fix", .halted)
        #expect(halted.reason == "rollout halted by halted_fix.halt, signed by test: oops on canaries")
        let apply = try sandbox.lpclient("apply", "halted_fix")
        #expect(apply.status == 1 && apply.stderr.contains("remove the halt file"), "\(apply)")

        try FileManager.default.removeItem(atPath: "\(sandbox.incoming)/halted_fix.halt")
        try await sandbox.waitFor("halted_fix", .staged)
        #expect(sandbox.loadLog.isEmpty)
    }

    @Test("a halt with --revert reverts the patch where it is applied")
    func haltRevert() async throws {
        let sandbox = try Sandbox()
        try await sandbox.start()
        try sandbox.drop(try sandbox.bundle("bad_fix"))
        try await sandbox.waitFor("bad_fix", .applied)
        try sandbox.drop(try sandbox.halt("bad_fix", options: ["--revert"]))
        let halted = try await sandbox.waitFor("bad_fix", .halted)
        #expect(halted.reason?.hasPrefix("rollout halted and reverted by bad_fix.halt") == true, "\(halted.reason ?? "")")
        #expect(sandbox.loadedModules.isEmpty)
    }

    @Test("a boot that ends right after an enable without a clean stop quarantines the patch; lpclient apply applies it")
    func quarantine() async throws {
        let sandbox = try Sandbox()
        try await sandbox.start()
        try sandbox.drop(try sandbox.bundle("crashy"))
        try await sandbox.waitFor("crashy", .applied)
        sandbox.crash()
        try Self.reboot(sandbox)
        try await sandbox.start()
        let patch = try #require(try sandbox.patch("crashy"))
        #expect(patch.state == .quarantined)
        #expect(patch.reasonCode == "quarantined")
        #expect(sandbox.loadLog == ["crashy"], "not applied again by itself")
        let status = try sandbox.lpclient("status")
        #expect(status.status == 1, "\(status)")
        let entry = sandbox.log.split(separator: "\n").first { $0.contains("crashy 1 quarantined: the machine went down") }
        #expect(entry?.contains("MESSAGE_ID=db028a0d5c7345d4acbd6bb8d06f65b2") == true, "the journal entry: \(entry ?? "none")")
        let metrics = try sandbox.lpclient("metrics")
        #expect(metrics.stdout.contains("livepatchd_patches{state=\"quarantined\"} 1"), "\(metrics.stdout.prefix(3000))")
        #expect(try sandbox.lpclient("apply", "crashy").status == 0)
        #expect(try sandbox.patch("crashy")?.state == .applied)
    }

    @Test("after a clean stop and a reboot the patch is applied again, not quarantined")
    func cleanRebootIsNotQuarantined() async throws {
        let sandbox = try Sandbox()
        try await sandbox.start()
        try sandbox.drop(try sandbox.bundle("steady"))
        try await sandbox.waitFor("steady", .applied)
        sandbox.stop()
        try Self.reboot(sandbox)
        try await sandbox.start()
        #expect(try sandbox.patch("steady")?.state == .applied)
        #expect(sandbox.loadLog == ["steady", "steady"])
    }

    @Test("livepatchd.apply=off on the kernel command line: verified and reported, nothing applied, not even after a reboot")
    func killSwitch() async throws {
        let sandbox = try Sandbox()
        try await sandbox.start()
        try sandbox.drop(try sandbox.bundle("wanted"))
        try await sandbox.waitFor("wanted", .applied)
        sandbox.stop()
        try Self.reboot(sandbox)
        try "BOOT_IMAGE=/vmlinuz ro quiet livepatchd.apply=off\n".write(toFile: "\(sandbox.kernel)/cmdline", atomically: true, encoding: .utf8)
        try await sandbox.start()
        try sandbox.drop(try sandbox.bundle("newcomer"))
        try await sandbox.waitFor("newcomer", .staged)
        #expect(try sandbox.patch("wanted")?.state == .staged)
        #expect(sandbox.loadLog == ["wanted"])
        let status = try sandbox.lpclient("status")
        #expect(status.stdout.contains("applying is off (livepatchd.apply=off on the kernel command line)"), "\(status)")
        let apply = try sandbox.lpclient("apply", "newcomer")
        #expect(apply.status == 1 && apply.stderr.contains("applying is off"), "\(apply)")
    }
}
