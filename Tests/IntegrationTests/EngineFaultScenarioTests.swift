import Foundation
import LivepatchAPI
import Testing

/// Races and faults an unlucky operator meets, each of which the daemon once got wrong: what it
/// reports must be what the kernel runs, and what it cannot read is unknown, not gone.
@Suite("Races and faults", .serialized, .timeLimit(.minutes(5)))
struct EngineFaultScenarioTests {
    @Test("a new version dropped while the older one waits for another transition: the version shown is the one the kernel runs")
    func versionDuringForeignTransition() async throws {
        let sandbox = try Sandbox()
        let kernel = SimulatedKernelFiles(root: sandbox.kernel)
        try await sandbox.start()
        // A livepatch loaded by hand, its transition running: every load waits (EBUSY otherwise).
        try kernel.insertForeign("by_hand", functions: ["vmlinux:other"], transitionEnd: Date().timeIntervalSince1970 + 3600)
        _ = try sandbox.lpclient("rescan")
        try sandbox.drop(try sandbox.bundle("upgraded", version: "1", functions: ["vmlinux:v1_target"]))
        _ = try await eventually("the daemon to wait for by_hand") {
            (sandbox.log.contains("waiting for the transition of by_hand"), sandbox.log.suffix(2000))
        }
        let v2 = try sandbox.bundle("upgraded", version: "2", functions: ["vmlinux:v2_target"])
        try sandbox.drop(v2)
        _ = try await eventually("version 2 to be seen") { (try sandbox.patch("upgraded")?.version == "2", try sandbox.patch("upgraded")) }
        try kernel.change("by_hand") { $0.transitionEnd = nil }
        let applied = try await sandbox.waitFor("upgraded", .applied)
        let running = try #require(try kernel.modules()["upgraded"])
        #expect(running.functions == ["vmlinux:v2_target"], "the kernel runs version 2")
        #expect(applied.version == "2")
        #expect(applied.functions == running.functions)
        #expect(sandbox.loadLog.filter { $0 == "upgraded" }.count == 1)
        sandbox.stop()
    }

    @Test("the kernel unreadable during a revert: the patch stays reverting, nothing is unloaded, and it ends once readable")
    func readErrorDuringRevert() async throws {
        let sandbox = try Sandbox()
        try await sandbox.start()
        try sandbox.drop(try sandbox.bundle("unreadable"))
        try await sandbox.waitFor("unreadable", .applied)
        try sandbox.inject("transition-delay", "1")
        try sandbox.inject("fail-read", "all\n")
        // lpclient waits until the revert ends, which needs this test to clear the injection:
        // off the cooperative pool, or two such waits in parallel suites deadlock it.
        let revert = Task { try await onOwnThread { try sandbox.lpclient("revert", "unreadable") } }
        _ = try await eventually("the daemon to report the unreadable kernel") {
            (sandbox.log.contains("cannot read the kernel's livepatch state"), sandbox.log.suffix(2000))
        }
        // Long past the 1 s transition: an unknown state must not read as "gone".
        try await Task.sleep(for: .seconds(3))
        #expect(try sandbox.patch("unreadable")?.state == .reverting)
        #expect(sandbox.loadedModules == ["unreadable"])
        let status = try sandbox.lpclient("status")
        #expect(status.status == 1 && status.stdout.contains("cannot be read"), "\(status)")
        try sandbox.inject("fail-read", "")
        let result = try await revert.value
        #expect(result.status == 0, "\(result)")
        try await sandbox.waitFor("unreadable", .reverted)
        #expect(sandbox.loadedModules.isEmpty)
        sandbox.stop()
    }

    @Test("a patch disabled by hand, its module left loaded, is reported and not applied again until asked")
    func disabledByHand() async throws {
        let sandbox = try Sandbox()
        let kernel = SimulatedKernelFiles(root: sandbox.kernel)
        try await sandbox.start()
        try sandbox.drop(try sandbox.bundle("by_hand_off"))
        try await sandbox.waitFor("by_hand_off", .applied)
        try kernel.change("by_hand_off") {
            $0.enabled = false
            $0.inSysfs = false
        }
        _ = try sandbox.lpclient("rescan")
        let reverted = try await sandbox.waitFor("by_hand_off", .reverted)
        #expect(reverted.reason?.contains("disabled outside livepatchd") == true, "\(reverted)")
        #expect(reverted.reasonCode == "disabled-outside")
        #expect(sandbox.log.contains("was disabled outside livepatchd"))
        sandbox.stop()
        try await sandbox.start()
        #expect(try sandbox.patch("by_hand_off")?.state == .reverted)
        #expect(sandbox.loadLog == ["by_hand_off"], "not applied again after a restart")
        #expect(try sandbox.lpclient("status").status == 0, "disabled on purpose is not degraded")
        #expect(try sandbox.lpclient("apply", "by_hand_off").status == 0)
        #expect(sandbox.loadLog == ["by_hand_off", "by_hand_off"])
        sandbox.stop()
    }

    @Test("a manifest that arrived alone and was removed while the daemon was down is gone after the restart")
    func manifestRemovedWhileDown() async throws {
        let sandbox = try Sandbox()
        try await sandbox.start()
        let bundle = try sandbox.bundle("lonely")
        try sandbox.drop([bundle.manifest])
        try await sandbox.waitFor("lonely", .pending)
        sandbox.stop()
        try FileManager.default.removeItem(atPath: "\(sandbox.incoming)/lonely.json")
        try await sandbox.start()
        #expect(try sandbox.patch("lonely") == nil)
        #expect(try sandbox.lpclient("status").status == 0)
        sandbox.stop()
    }

    @Test("a second livepatchd on the same state directory exits at once, naming the first")
    func secondDaemon() async throws {
        let sandbox = try Sandbox()
        try await sandbox.start()
        try sandbox.drop(try sandbox.bundle("only_once"))
        try await sandbox.waitFor("only_once", .applied)
        let first = try #require(sandbox.daemon?.processIdentifier)
        // timeout(1): without the lock the second one would run beside the first for good.
        let second = try run(
            "/usr/bin/timeout", ["30", Binaries.path("livepatchd"), "--config", sandbox.configFile, "--socket", "\(sandbox.root)/second"],
            environment: ["LIVEPATCHD_LOG": "stderr", "NOTIFY_SOCKET": ""])
        #expect(second.status == 1, "\(second)")
        #expect(second.stderr.contains("in use by livepatchd pid \(first), socket \(sandbox.socket)"), "\(second)")
        #expect(sandbox.loadLog == ["only_once"])
        #expect(try sandbox.patch("only_once")?.state == .applied, "the first one still serves")
        sandbox.stop()
    }

    @Test("a manifest replaced by an incomplete one and removed while the old version waits: nothing is loaded, the daemon lives")
    func manifestGoneWhileWaiting() async throws {
        let sandbox = try Sandbox()
        let kernel = SimulatedKernelFiles(root: sandbox.kernel)
        try await sandbox.start()
        try kernel.insertForeign("busy_hand", functions: ["vmlinux:other"], transitionEnd: Date().timeIntervalSince1970 + 3600)
        _ = try sandbox.lpclient("rescan")
        let v1 = try sandbox.bundle("vanishing", version: "1")
        try sandbox.drop(v1)
        _ = try await eventually("the daemon to wait for busy_hand") {
            (sandbox.log.contains("waiting for the transition of busy_hand"), sandbox.log.suffix(2000))
        }
        // The manifest is replaced by one whose signature has not arrived, then taken away.
        let v2 = try sandbox.bundle("vanishing", version: "2")
        try FileManager.default.removeItem(atPath: "\(sandbox.incoming)/vanishing.json.sig")
        try FileManager.default.removeItem(atPath: "\(sandbox.incoming)/vanishing.json")
        try FileManager.default.copyItem(atPath: v2.manifest, toPath: "\(sandbox.incoming)/vanishing.json")
        try await sandbox.waitFor("vanishing", .pending)
        try FileManager.default.removeItem(atPath: "\(sandbox.incoming)/vanishing.json")
        _ = try await eventually("the record to go") { (try sandbox.patch("vanishing") == nil, try sandbox.patch("vanishing")) }
        try kernel.change("busy_hand") { $0.transitionEnd = nil }
        _ = try sandbox.lpclient("rescan")
        #expect(sandbox.daemon?.isRunning == true)
        #expect(!sandbox.loadLog.contains("vanishing"))
        #expect(try sandbox.lpclient("status").status == 0)
        sandbox.stop()
    }

    @Test("v1 rolled back after its timeout while v2 arrived: v2 is applied")
    func upgradeAfterRollback() async throws {
        let sandbox = try Sandbox(["transition_timeout": "\"3s\""])
        try sandbox.inject("stall", "rolled\n")
        try await sandbox.start()
        try sandbox.drop(try sandbox.bundle("rolled", version: "1", functions: ["vmlinux:r1"]))
        _ = try await eventually("v1 to be loaded") { (sandbox.loadedModules.contains("rolled"), sandbox.loadedModules) }
        try sandbox.drop(try sandbox.bundle("rolled", version: "2", functions: ["vmlinux:r2"]))
        _ = try await eventually("v1 to fail", timeout: .seconds(60)) {
            let history = try sandbox.call(.getHistory, as: HistoryReply.self).entries
            return (history.contains { $0.name == "rolled" && $0.version == "1" && $0.state == .failed }, history.suffix(4))
        }
        try sandbox.inject("stall", "")
        _ = try await eventually("v2 to be applied", timeout: .seconds(60)) {
            let patch = try sandbox.patch("rolled")
            return (patch?.state == .applied && patch?.version == "2", patch)
        }
        #expect(try SimulatedKernelFiles(root: sandbox.kernel).modules()["rolled"]?.functions == ["vmlinux:r2"])
        sandbox.stop()
    }
}
