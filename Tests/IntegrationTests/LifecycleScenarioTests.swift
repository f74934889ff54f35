import Foundation
import LivepatchAPI
import Testing
import Varlink

/// Restarts, crashes, reloads: the state survives and the kernel's view wins.
@Suite("Daemon life cycle", .serialized, .timeLimit(.minutes(5)))
struct LifecycleScenarioTests {
    @Test("killed with SIGKILL mid-transition, a restarted daemon reconciles: nothing loaded twice, nothing lost")
    func crashMidApply() async throws {
        let sandbox = try Sandbox()
        try await sandbox.start()
        try sandbox.drop(try sandbox.bundle("before_crash"))
        try await sandbox.waitFor("before_crash", .applied)

        // Stalled until the daemon is dead: a timed transition can end between two polls of a
        // loaded machine, and then there is no "mid-transition" left to kill the daemon in.
        try sandbox.inject("stall", "during_crash\n")
        try sandbox.drop(try sandbox.bundle("during_crash"))
        try await sandbox.waitFor("during_crash", .applying)
        // Loaded, and its transition running: kill the daemon now.
        _ = try await eventually("during_crash to be loaded") { (sandbox.loadedModules.contains("during_crash"), sandbox.loadedModules) }
        sandbox.crash()
        try sandbox.inject("stall", "")
        try await sandbox.start()
        try await sandbox.waitFor("during_crash", .applied)
        #expect(try sandbox.patch("before_crash")?.state == .applied)
        #expect(sandbox.loadedModules == ["before_crash", "during_crash"])
        #expect(sandbox.loadLog == ["before_crash", "during_crash"], "each module loaded exactly once")
        let history = try sandbox.call(.getHistory, as: HistoryReply.self).entries
        #expect(history.filter { $0.name == "during_crash" && $0.state == .applied }.count == 1)
        #expect(history.filter { $0.name == "before_crash" && $0.state == .applied }.count == 1)
    }

    @Test("SIGTERM during a stuck transition stops promptly; the next start follows the transition to its end")
    func stopMidTransition() async throws {
        let sandbox = try Sandbox(["transition_timeout": "\"5min\""])
        try sandbox.inject("stall", "slow_patch\n")
        try await sandbox.start()
        try sandbox.drop(try sandbox.bundle("slow_patch"))
        try await sandbox.waitFor("slow_patch", .applying)
        let clock = ContinuousClock()
        let stopped = clock.measure { sandbox.stop() }
        #expect(stopped < .seconds(10), "stopping took \(stopped)")
        try sandbox.inject("stall", "")
        try await sandbox.start()
        try await sandbox.waitFor("slow_patch", .applied)
        #expect(sandbox.loadLog == ["slow_patch"])
    }

    @Test("a deleted patch directory is created again and watched again")
    func patchDirectoryRemoved() async throws {
        let sandbox = try Sandbox()
        try await sandbox.start()
        try FileManager.default.removeItem(atPath: sandbox.incoming)
        _ = try await eventually("the patch directory to be back") {
            (FileManager.default.fileExists(atPath: sandbox.incoming), sandbox.log.suffix(500))
        }
        let bundle = try sandbox.bundle("after_removal")
        _ = try await eventually("the watch to be back") {
            (sandbox.log.contains("watching it again"), sandbox.log.suffix(500))
        }
        try sandbox.drop(bundle)
        try await sandbox.waitFor("after_removal", .applied)
    }

    @Test("after a reboot (the kernel forgot everything) desired patches are applied again before READY=1")
    func reboot() async throws {
        let sandbox = try Sandbox()
        try await sandbox.start()
        try sandbox.drop(try sandbox.bundle("survivor"))
        try sandbox.drop(try sandbox.bundle("reverted_one"))
        try await sandbox.waitFor("survivor", .applied)
        try await sandbox.waitFor("reverted_one", .applied)
        #expect(try sandbox.lpclient("revert", "reverted_one").status == 0)
        sandbox.stop()
        try FileManager.default.removeItem(atPath: "\(sandbox.kernel)/modules")  // the reboot
        try await sandbox.start()
        // Already applied when READY=1 arrived: no waiting here.
        #expect(try sandbox.patch("survivor")?.state == .applied)
        #expect(try sandbox.patch("reverted_one")?.state == .reverted)
        #expect(sandbox.loadedModules == ["survivor"])
        #expect(sandbox.loadLog == ["survivor", "reverted_one", "survivor"], "re-applied once after the reboot")
    }

    @Test("under manual policy an operator's apply survives a reboot, re-applied before READY=1 in stacking order")
    func rebootManual() async throws {
        let sandbox = try Sandbox(["apply": "\"manual\""])
        try await sandbox.start()
        try sandbox.drop(try sandbox.bundle("z_first", functions: ["vmlinux:shared"]))
        try sandbox.drop(try sandbox.bundle("a_second", functions: ["vmlinux:shared"]))
        try await sandbox.waitFor("z_first", .staged)
        try await sandbox.waitFor("a_second", .staged)
        #expect(try sandbox.lpclient("apply", "z_first").status == 0)
        #expect(try sandbox.lpclient("apply", "a_second").status == 0)
        sandbox.stop()
        try FileManager.default.removeItem(atPath: "\(sandbox.kernel)/modules")  // the reboot
        try await sandbox.start()
        #expect(try sandbox.patch("z_first")?.state == .applied)
        #expect(try sandbox.patch("a_second")?.state == .applied)
        #expect(sandbox.loadLog == ["z_first", "a_second", "z_first", "a_second"], "the same order as before the reboot")
        #expect(try sandbox.patch("z_first")?.stackedBelow == ["a_second"])
    }

    @Test("a revert the kernel refuses answers at once with the reason; the patch stays applied")
    func refusedRevert() async throws {
        let sandbox = try Sandbox()
        try await sandbox.start()
        try sandbox.drop(try sandbox.bundle("kept"))
        try await sandbox.waitFor("kept", .applied)
        // Someone else's patch is stuck in its transition: the kernel refuses our disable (EBUSY).
        try sandbox.inject("stall", "hand_loaded\n")
        let module: [String: Any] = [
            "name": "hand_loaded", "functions": ["vmlinux:other"], "replace": false, "enabled": true, "inSysfs": true,
            "sequence": 99, "forced": false, "transitionEnd": Date().timeIntervalSince1970 + 3600,
        ]
        try JSONSerialization.data(withJSONObject: module).write(to: URL(fileURLWithPath: "\(sandbox.kernel)/modules/hand_loaded.json"))
        let revert = try sandbox.lpclient("revert", "kept")
        #expect(revert.status == 1, "\(revert)")
        #expect((revert.stdout + revert.stderr).contains("revert failed"), "\(revert)")
        let patch = try sandbox.patch("kept")
        #expect(patch?.state == .applied)
        #expect(patch?.reason?.contains("busy") == true, "\(patch?.reason ?? "")")
    }

    @Test("a transition stuck at start does not hold up READY=1; the worker keeps following it")
    func stuckAtStart() async throws {
        let sandbox = try Sandbox(["transition_timeout": "\"2s\""])
        try await sandbox.start()
        try sandbox.drop(try sandbox.bundle("stuck_revert"))
        try await sandbox.waitFor("stuck_revert", .applied)
        sandbox.stop()
        // The daemon died while reverting and the kernel's reverse transition is stuck.
        let path = "\(sandbox.kernel)/modules/stuck_revert.json"
        var module = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
        module["enabled"] = false
        module["transitionEnd"] = Date().timeIntervalSince1970 + 3600
        try JSONSerialization.data(withJSONObject: module).write(to: URL(fileURLWithPath: path))
        let state = "\(sandbox.state)/state.json"
        let text = try String(contentsOfFile: state, encoding: .utf8)
        try text.replacingOccurrences(of: "\"state\" : \"applied\"", with: "\"state\" : \"reverting\"")
            .write(toFile: state, atomically: true, encoding: .utf8)
        try await sandbox.start()  // READY=1 within the deadline, although the revert is stuck
        #expect(try sandbox.patch("stuck_revert")?.state == .reverting)
        let status = try sandbox.lpclient("status")
        #expect(status.status == 1, "a stuck revert is degraded: \(status)")
        // The kernel finishes at last; the worker was still following.
        module["transitionEnd"] = Date().timeIntervalSince1970
        try JSONSerialization.data(withJSONObject: module).write(to: URL(fileURLWithPath: path))
        try await sandbox.waitFor("stuck_revert", .reverted)
        #expect(sandbox.loadedModules.isEmpty)
    }

    @Test("a patch loaded by someone else is listed as foreign and left alone")
    func foreign() async throws {
        let sandbox = try Sandbox()
        try await sandbox.start()
        let module: [String: Any] = [
            "name": "hand_loaded", "functions": ["vmlinux:other"], "replace": false, "enabled": true, "inSysfs": true,
            "sequence": 99, "forced": false,
        ]
        try JSONSerialization.data(withJSONObject: module).write(
            to: URL(fileURLWithPath: "\(sandbox.kernel)/modules/hand_loaded.json"))
        #expect(try sandbox.lpclient("rescan").status == 0)
        let patch = try await sandbox.waitFor("hand_loaded", .foreign)
        #expect(patch.desired == false)
        try sandbox.drop(try sandbox.bundle("ours"))
        try await sandbox.waitFor("ours", .applied)
        #expect(sandbox.loadedModules == ["hand_loaded", "ours"])
    }

    @Test("SIGHUP sends RELOADING=1 then READY=1 and applies the new policy")
    func reload() async throws {
        let sandbox = try Sandbox(["apply": "\"manual\""])
        try await sandbox.start()
        try sandbox.drop(try sandbox.bundle("waits_for_reload"))
        try await sandbox.waitFor("waits_for_reload", .staged)
        let before = sandbox.notify.received.count
        try sandbox.writeConfig(["apply": "\"auto\""])
        sandbox.signal(SIGHUP)
        let reloading = try await sandbox.notify.waitFor("RELOADING=1", after: before)
        try await sandbox.notify.waitFor("READY=1", after: reloading + 1)
        #expect(sandbox.notify.received[reloading].contains("MONOTONIC_USEC="))
        try await sandbox.waitFor("waits_for_reload", .applied)
    }

    @Test("sd_notify: READY=1 with a STATUS line, STOPPING=1 on SIGTERM")
    func notify() async throws {
        let sandbox = try Sandbox()
        try await sandbox.start()
        try sandbox.drop(try sandbox.bundle("counted"))
        try await sandbox.waitFor("counted", .applied)
        _ = try await eventually("STATUS=1 applied") {
            let seen = sandbox.notify.received
            return (seen.contains { $0.contains("STATUS=1 applied") }, seen)
        }
        let before = sandbox.notify.received.count
        sandbox.stop()
        try await sandbox.notify.waitFor("STOPPING=1", after: before)
        #expect(!FileManager.default.fileExists(atPath: sandbox.socket), "the socket is removed on stop")
    }

    @Test("an invalid config is refused with file, line and key; --check-config prints the effective config")
    func checkConfig() throws {
        let sandbox = try Sandbox()
        let good = try run(Binaries.path("livepatchd"), ["--config", sandbox.configFile, "--check-config"])
        #expect(good.status == 0, "\(good)")
        #expect(good.stdout.contains("backend = \"simulated\""))
        try sandbox.writeConfig(["apply": "\"sometimes\"", "colour": "\"blue\""])
        let bad = try run(Binaries.path("livepatchd"), ["--config", sandbox.configFile, "--check-config"])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains(sandbox.configFile), "\(bad)")
        #expect(bad.stderr.contains("apply") || bad.stderr.contains("colour"), "\(bad)")
    }
}

/// Who may do what on the socket, and what it streams.
@Suite("Control socket", .serialized, .timeLimit(.minutes(5)))
struct ControlSocketScenarioTests {
    @Test("a non-root client can read but not apply, revert or rescan", .enabled(if: getuid() == 0, "needs root to setpriv to nobody"))
    func nobody() async throws {
        let sandbox = try Sandbox(["apply": "\"manual\""])
        try await sandbox.start()
        try sandbox.drop(try sandbox.bundle("guarded"))
        try await sandbox.waitFor("guarded", .staged)
        let status = try sandbox.lpclient("status", asNobody: true)
        #expect(status.status == 0, "\(status)")
        #expect(try sandbox.lpclient("list", asNobody: true).stdout.contains("guarded"))
        let apply = try sandbox.lpclient("apply", "guarded", asNobody: true)
        #expect(apply.status == 77, "\(apply)")
        #expect(apply.stderr.contains("root"), "\(apply)")
        #expect(try sandbox.lpclient("rescan", asNobody: true).status == 77)
        #expect(try sandbox.patch("guarded")?.state == .staged)
    }

    @Test("Subscribe streams the state changes of an apply")
    func subscribe() async throws {
        let sandbox = try Sandbox(["apply": "\"manual\""])
        try await sandbox.start()
        let (changes, sink) = AsyncStream.makeStream(of: HistoryEntry.self)
        let socket = sandbox.socket
        let subscriber = Thread {
            guard let client = try? VarlinkClient(socketPath: socket) else { return sink.finish() }
            try? client.callMore(LivepatchInterface.Method.subscribe.qualifiedName) { reply in
                let change = try JSONValue.decode(SubscribeReply.self, from: reply.parameters, with: LivepatchInterface.makeDecoder())
                sink.yield(change.entry)
            }
            sink.finish()
        }
        subscriber.start()
        var iterator = changes.makeAsyncIterator()

        // A first bundle proves the subscription is live before the apply starts.
        try sandbox.drop(try sandbox.bundle("streamed"))
        while let entry = await iterator.next(), !(entry.name == "streamed" && entry.state == .staged) {}

        let apply = try sandbox.lpclient("apply", "streamed")
        #expect(apply.status == 0, "\(apply)")
        #expect(apply.stdout.contains("applying"), "lpclient apply shows progress: \(apply)")
        var states: [PatchState] = []
        while let entry = await iterator.next() {
            if entry.name == "streamed" { states.append(entry.state) }
            if entry.state == .applied { break }
        }
        #expect(states == [.applying, .applied])
        sandbox.stop()
    }

    @Test("a generic Varlink client (PyPI varlink) gets GetStatus and the interface description", .requires(.pythonVarlink))
    func genericClient() async throws {
        let python = try #require(TestDependency.varlinkPython)
        let sandbox = try Sandbox()
        try await sandbox.start()
        let status = try run(python, ["-m", "varlink.cli", "call", "unix:\(sandbox.socket)/io.livepatchd.GetStatus", "{}"])
        #expect(status.stdout.contains("\"summary\""), "\(status)")
        #expect(status.stdout.contains(Sandbox.release), "\(status)")
        let description = try run(python, ["-m", "varlink.cli", "help", "unix:\(sandbox.socket)/io.livepatchd"])
        #expect(description.stdout.contains("interface io.livepatchd"), "\(description)")
        #expect(description.stdout.contains("method GetStatus"), "\(description)")
        let info = try run(python, ["-m", "varlink.cli", "info", "unix:\(sandbox.socket)"])
        #expect(info.stdout.contains("io.livepatchd"), "\(info)")
    }
}
