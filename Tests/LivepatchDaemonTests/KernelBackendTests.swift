import Foundation
import LivepatchAPI
import LivepatchCore
import Testing

@testable import LivepatchDaemon

/// The kernel backend against fake /sys and /proc trees laid out as Linux 6.1 lays them out.
@Suite("Kernel backend on fake sysfs and proc")
final class KernelBackendTests {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("lp-kb-\(UUID().uuidString.prefix(8))").path
    var sys: String { "\(root)/sys" }
    var proc: String { "\(root)/proc" }
    var backend: KernelBackend { KernelBackend(sysfsRoot: sys, procRoot: proc, release: "6.1.0-56-amd64") }

    /// Every Linux system has /sys/module; the loaded modules are read from it.
    init() throws {
        try FileManager.default.createDirectory(atPath: "\(root)/sys/module", withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    func write(_ path: String, _ contents: String) throws {
        try FileManager.default.createDirectory(
            atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path, withIntermediateDirectories: true)
        try contents.write(toFile: path, atomically: false, encoding: .utf8)
    }

    func mkdir(_ path: String) throws { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }

    /// `/sys/kernel/livepatch/<name>` with its attributes and `<object>/<function,sympos>` dirs.
    func livepatch(
        _ name: String, enabled: Bool, transition: Bool, functions: [(String, String)], unloaded: Set<String> = []
    ) throws {
        let directory = "\(sys)/kernel/livepatch/\(name)"
        try write("\(directory)/enabled", enabled ? "1\n" : "0\n")
        try write("\(directory)/transition", transition ? "1\n" : "0\n")
        try write("\(directory)/force", "")
        for (object, function) in functions {
            try write("\(directory)/\(object)/patched", unloaded.contains(object) ? "0\n" : "1\n")
            try mkdir("\(directory)/\(object)/\(function),1")
        }
    }

    func task(pid: Int, tid: Int, state: String, comm: String) throws {
        try write("\(proc)/\(pid)/task/\(tid)/patch_state", "\(state)\n")
        try write("\(proc)/\(pid)/task/\(tid)/comm", "\(comm)\n")
    }

    @Test("patches, their state and functions are read from /sys/kernel/livepatch")
    func listing() async throws {
        try livepatch("lp_a", enabled: true, transition: false, functions: [("vmlinux", "cmdline_proc_show")])
        try livepatch(
            "lp_b", enabled: false, transition: true, functions: [("lp_target", "lp_target_show"), ("vmlinux", "f")],
            unloaded: ["lp_target"])
        let patches = (try await backend.read()).patches
        #expect(patches == [
            KernelPatch(
                name: "lp_a", enabled: true, inTransition: false, functions: ["vmlinux:cmdline_proc_show"],
                objects: [PatchObject(name: "vmlinux", patched: true)]),
            KernelPatch(
                name: "lp_b", enabled: false, inTransition: true, functions: ["lp_target:lp_target_show", "vmlinux:f"],
                objects: [PatchObject(name: "lp_target", patched: false), PatchObject(name: "vmlinux", patched: true)]),
        ])
    }

    @Test("an attribute that cannot be read makes the read fail: unknown is not gone")
    func unreadableAttribute() async throws {
        try write("\(sys)/kernel/livepatch/lp_a/transition", "0\n")
        try mkdir("\(sys)/kernel/livepatch/lp_a/enabled")  // read(2) gives EISDIR
        await #expect(throws: BackendError.self) { try await backend.read() }
        do { _ = try await backend.read() } catch { #expect(error.errno == EISDIR) }
    }

    @Test("loaded modules come from /sys/module")
    func loadedModules() async throws {
        try mkdir("\(sys)/module/lp_a")
        #expect(try await backend.read().loadedModules == ["lp_a"])
    }

    @Test("no /sys/kernel/livepatch: no patches, and the support report says livepatch is missing")
    func unsupported() async throws {
        try mkdir(sys)
        #expect((try await backend.read()).patches.isEmpty)
        #expect(backend.support().livepatch == false)
        #expect(backend.support().unsupportedReason?.contains("/sys/kernel/livepatch") == true)
    }

    @Test("disable writes 0 to enabled, force writes 1 to force")
    func writes() async throws {
        try livepatch("lp_a", enabled: true, transition: true, functions: [])
        try await backend.disable("lp_a")
        try await backend.force("lp_a")
        // sysfs takes the written value whole; the fake is a regular file, so read the first line.
        func value(_ attribute: String) throws -> String? {
            try String(contentsOfFile: "\(sys)/kernel/livepatch/lp_a/\(attribute)", encoding: .utf8)
                .split(separator: "\n").first.map(String.init)
        }
        #expect(try value("enabled") == "0")
        #expect(try value("force") == "1")
    }

    @Test("writing to a patch that is gone fails with the errno in the reason")
    func writeFails() async throws {
        try mkdir("\(sys)/kernel/livepatch")
        do {
            try await backend.disable("gone")
            Issue.record("disabling a missing patch must fail")
        } catch {
            #expect(error.errno == ENOENT)
            #expect(error.detail.contains("No such file or directory"))
        }
    }

    @Test("a refused load says why in the kernel's words, with the errno and without the store path")
    func refusedLoad() async throws {
        // Not a module: whatever refuses it (the kernel, or libkmod before it), the insert fails.
        let stored = "\(root)/store/0123abcd/lp_a.ko"
        try write(stored, "not an ELF module")
        let log = FixedKernelLog(logged: [
            KernelLogLine("lp_a: Unknown symbol lp_gone (err -2)", priority: 4),
            KernelLogLine("lp_other: Unknown symbol lp_gone (err -2)", priority: 4),
        ])
        let backend = KernelBackend(sysfsRoot: sys, procRoot: proc, release: "6.1.0-56-amd64", kernelLog: log)
        do {
            try await backend.load(modulePath: stored, name: "lp_a")
            Issue.record("inserting a file that is not a module must fail")
        } catch {
            #expect(error.kernelMessages == ["lp_a: Unknown symbol lp_gone (err -2)"])
            #expect(error.errno != nil)
            #expect(error.detail.hasPrefix("the kernel said \"lp_a: Unknown symbol lp_gone (err -2)\" ("), "\(error.detail)")
            #expect(!error.detail.contains(root), "no store path: \(error.detail)")
        }
    }

    @Test("blocking tasks are those whose patch_state is neither -1 nor the target state")
    func blockers() async throws {
        try livepatch("lp_a", enabled: true, transition: true, functions: [])
        try task(pid: 100, tid: 100, state: "0", comm: "stuck_worker")
        try task(pid: 100, tid: 105, state: "1", comm: "switched")
        try task(pid: 200, tid: 200, state: "-1", comm: "idle")
        #expect(await backend.blockingTasks("lp_a") == [BlockingTask(pid: 100, comm: "stuck_worker")])
        // Disabling reverses the target: now the switched task is the one behind.
        try write("\(sys)/kernel/livepatch/lp_a/enabled", "0\n")
        #expect(await backend.blockingTasks("lp_a") == [BlockingTask(pid: 105, comm: "switched")])
    }

    @Test("between full walks of /proc only the tasks that blocked are read again; the next full walk finds new ones")
    func blockersBetweenWalks() async throws {
        try livepatch("lp_a", enabled: true, transition: true, functions: [])
        try task(pid: 100, tid: 100, state: "0", comm: "stuck_worker")
        try task(pid: 200, tid: 201, state: "0", comm: "slow_thread")
        let rarely = KernelBackend(sysfsRoot: sys, procRoot: proc, release: "6.1.0-56-amd64", fullWalkInterval: .seconds(3600))
        #expect(await rarely.blockingTasks("lp_a").map(\.comm) == ["stuck_worker", "slow_thread"])
        // One switched, one forked since: the first is dropped at once, the second waits for a full walk.
        try write("\(proc)/200/task/201/patch_state", "1\n")
        try task(pid: 300, tid: 300, state: "0", comm: "forked_since")
        #expect(await rarely.blockingTasks("lp_a").map(\.comm) == ["stuck_worker"])
        let always = KernelBackend(sysfsRoot: sys, procRoot: proc, release: "6.1.0-56-amd64", fullWalkInterval: .zero)
        #expect(await always.blockingTasks("lp_a").map(\.comm) == ["stuck_worker", "forked_since"])
        // The other direction is another transition: a full walk at once.
        try write("\(sys)/kernel/livepatch/lp_a/enabled", "0\n")
        #expect(await rarely.blockingTasks("lp_a").map(\.comm) == ["slow_thread"])
    }

    @Test("the same patch loaded again is another transition: its blockers are found at once, not looked for among the old ones")
    func blockersOfAReloadedPatch() async throws {
        try livepatch("lp_a", enabled: true, transition: true, functions: [])
        try task(pid: 100, tid: 100, state: "0", comm: "old_thread")
        let rarely = KernelBackend(sysfsRoot: sys, procRoot: proc, release: "6.1.0-56-amd64", fullWalkInterval: .seconds(3600))
        #expect(await rarely.blockingTasks("lp_a").map(\.comm) == ["old_thread"])
        // Reverted, unloaded, its thread gone; loaded again with a new thread stuck in it.
        try FileManager.default.removeItem(atPath: "\(sys)/kernel/livepatch/lp_a")
        try FileManager.default.removeItem(atPath: "\(proc)/100")
        try livepatch("lp_a", enabled: true, transition: true, functions: [])
        try task(pid: 842, tid: 842, state: "0", comm: "new_thread")
        #expect(await rarely.blockingTasks("lp_a").map(\.comm) == ["new_thread"])
    }

    @Test("a module is loaded when /sys/module/<name> exists")
    func moduleLoaded() async throws {
        try mkdir("\(sys)/module/lp_a")
        #expect((try await backend.read()).isLoaded("lp_a"))
        #expect((try await backend.read()).isLoaded("lp_b") == false)
    }

    @Test("waiting for a transition returns as soon as transition changes, well before the deadline")
    func waitReturnsOnChange() async throws {
        try livepatch("lp_a", enabled: true, transition: true, functions: [])
        let transition = "\(sys)/kernel/livepatch/lp_a/transition"
        let clock = ContinuousClock()
        let flip = Task {
            try await Task.sleep(for: .milliseconds(100))
            try "0\n".write(toFile: transition, atomically: false, encoding: .utf8)
        }
        // A deadline far beyond any scheduling delay a loaded 2-core machine shows, so "before
        // the deadline" can only mean "on the change".
        let seen = try #require(try await backend.read().patches.first)
        let waited = await clock.measure { await backend.waitForTransition("lp_a", from: seen, until: clock.now + .seconds(120)) }
        try await flip.value
        #expect(waited < .seconds(60), "waited \(waited)")
        #expect((try await backend.read()).patches.first?.inTransition == false)
    }

    @Test("a transition that ended after the last read and before the wait began ends the wait at once")
    func waitComparesWithWhatWasSeen() async throws {
        try livepatch("lp_a", enabled: true, transition: true, functions: [])
        let seen = try #require(try await backend.read().patches.first)
        // The kernel's retry ends the transition while the daemon is still busy elsewhere (a
        // blocker sample): the wait must not take "0" for where to start from.
        try "0\n".write(toFile: "\(sys)/kernel/livepatch/lp_a/transition", atomically: false, encoding: .utf8)
        let clock = ContinuousClock()
        let waited = await clock.measure { await backend.waitForTransition("lp_a", from: seen, until: clock.now + .seconds(120)) }
        #expect(waited < .seconds(60), "waited \(waited)")
    }
}

/// A kernel log holding what the kernel "logged" after the mark it hands out.
struct FixedKernelLog: KernelLog {
    var logged: [KernelLogLine]
    static let mark: UInt64 = 1_700_000_000_000_000

    func mark() -> UInt64 { Self.mark }

    func lines(about module: String, since mark: UInt64) async -> [String] {
        mark == Self.mark ? KernelMessages.about(module, in: logged) : []
    }
}
