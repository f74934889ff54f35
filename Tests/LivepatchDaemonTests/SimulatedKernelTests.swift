import Foundation
import LivepatchAPI
import LivepatchCore
import Testing

@testable import LivepatchDaemon

/// The simulated kernel must behave like Linux 6.1 where the daemon depends on it.
@Suite("Simulated kernel")
final class SimulatedKernelTests {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("lp-sim-\(UUID().uuidString.prefix(8))").path
    let kernel: SimulatedKernel

    init() throws {
        kernel = try SimulatedKernel(root: root, release: "6.1.0-sim-amd64")
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    /// A real ELF object with modinfo, made by the repository's fixture script.
    func module(_ name: String, functions: String = "vmlinux:f", replace: Bool = false) throws -> String {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/make-test-module.sh").path
        let path = "\(root)/\(name).ko"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: script)
        process.arguments =
            ["--out", path, "--name", name, "--release", "6.1.0-sim-amd64", "--functions", functions]
            + (replace ? ["--replace"] : [])
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        return path
    }

    func inject(_ file: String, _ contents: String) throws {
        try contents.write(toFile: "\(root)/inject/\(file)", atomically: true, encoding: .utf8)
    }

    func patch(_ name: String) async throws -> KernelPatch? {
        (try await kernel.read()).patches.first { $0.name == name }
    }

    func waitForTransitionEnd(_ name: String) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(30)
        while let seen = try await patch(name), seen.inTransition, clock.now < deadline {
            await kernel.waitForTransition(name, from: seen, until: deadline)
        }
    }

    @Test("load enables the patch with a transition, reports the module's functions, and EEXIST for a second load")
    func load() async throws {
        // Stalled, so it is surely seen running, however loaded the machine; released below.
        try inject("stall", "a\n")
        let path = try module("a", functions: "vmlinux:f,vmlinux:g")
        try await kernel.load(modulePath: path, name: "a")
        #expect(
            try await patch("a")
                == KernelPatch(
                    name: "a", enabled: true, inTransition: true, functions: ["vmlinux:f", "vmlinux:g"],
                    objects: [PatchObject(name: "vmlinux", patched: true)]))
        try inject("stall", "")
        try await waitForTransitionEnd("a")
        #expect(try await patch("a")?.inTransition == false)
        await #expect(throws: BackendError.self) { try await kernel.load(modulePath: path, name: "a") }
        do { try await kernel.load(modulePath: path, name: "a") } catch { #expect(error.errno == EEXIST) }
    }

    @Test("an injected read failure makes the read fail with EIO, and nothing else")
    func readFailure() async throws {
        try await kernel.load(modulePath: try module("a"), name: "a")
        try inject("fail-read", "all\n")
        do {
            _ = try await kernel.read()
            Issue.record("the read must fail while fail-read is injected")
        } catch { #expect(error.errno == EIO) }
        try inject("fail-read", "")
        #expect(try await kernel.read().isLoaded("a"))
    }

    @Test("a load or a disable during another patch's transition fails with EBUSY")
    func busy() async throws {
        try inject("transition-delay", "30")
        try await kernel.load(modulePath: try module("a"), name: "a")
        let b = try module("b")
        do {
            try await kernel.load(modulePath: b, name: "b")
            Issue.record("a second load during a transition must fail")
        } catch { #expect(error.errno == EBUSY) }
    }

    @Test("disable ends with the sysfs directory gone; only then can the module be removed")
    func disableThenUnload() async throws {
        try inject("transition-delay", "0.05")
        try await kernel.load(modulePath: try module("a"), name: "a")
        try await waitForTransitionEnd("a")
        // The disable's transition runs long enough for the unload below to meet it, even when
        // the test's next step waits seconds for a thread on a loaded machine.
        try inject("transition-delay", "10")
        try await kernel.disable("a")
        do {
            try await kernel.unload("a")
            Issue.record("removing a module whose patch is still registered must fail")
        } catch { #expect(error.errno == EBUSY) }
        try await waitForTransitionEnd("a")
        #expect(try await patch("a") == nil)
        try await kernel.unload("a")
        #expect((try await kernel.read()).isLoaded("a") == false)
    }

    @Test("a stalled transition never ends while stalled, reports its blocker, and reverses when disabled")
    func stall() async throws {
        try inject("transition-delay", "0.05")
        try inject("stall", "a\n")
        try await kernel.load(modulePath: try module("a"), name: "a")
        let seen = try #require(try await patch("a"))
        await kernel.waitForTransition("a", from: seen, until: ContinuousClock().now + .milliseconds(300))
        #expect(try await patch("a")?.inTransition == true)
        #expect(await kernel.blockingTasks("a").map(\.comm) == ["sim-stalled"])
        try await kernel.disable("a")
        try await waitForTransitionEnd("a")
        #expect(try await patch("a") == nil)
    }

    @Test("a forced patch ends its transition at once and can never be removed")
    func force() async throws {
        try inject("stall", "a\n")
        try await kernel.load(modulePath: try module("a"), name: "a")
        try await kernel.force("a")
        #expect(try await patch("a")?.inTransition == false)
        try await kernel.disable("a")
        try await waitForTransitionEnd("a")
        do {
            try await kernel.unload("a")
            Issue.record("a forced module must stay")
        } catch { #expect(error.errno == EBUSY) }
    }

    @Test("a replace patch disables every other patch when its transition ends")
    func replace() async throws {
        try inject("transition-delay", "0.05")
        try await kernel.load(modulePath: try module("a"), name: "a")
        try await waitForTransitionEnd("a")
        try await kernel.load(modulePath: try module("r", replace: true), name: "r")
        try await waitForTransitionEnd("r")
        #expect((try await kernel.read()).patches.map(\.name) == ["r"])
        #expect((try await kernel.read()).isLoaded("a"), "the replaced module stays loaded until removed")
        try await kernel.unload("a")
    }

    @Test("an injected load failure is refused like a bad module")
    func loadFailure() async throws {
        try inject("fail-load", "a\n")
        let a = try module("a")
        do {
            try await kernel.load(modulePath: a, name: "a")
            Issue.record("the injected failure must refuse the load")
        } catch { #expect(error.errno == ENOEXEC) }
        #expect((try await kernel.read()).isLoaded("a") == false)
    }

    @Test("an injected refusal fails with its errno and the kernel's lines about the patch, not the others logged with them")
    func refusalWithKernelWords() async throws {
        try inject(
            "fail-load",
            """
            a EINVAL <3>livepatch: Livepatch patch (a) is not compatible with the already installed livepatches.
            a EINVAL <4>livepatch: 'a2': starting unpatching transition
            a EINVAL <6>a2: fix_console_loglevel: fixing console_loglevel
            b ENOENT <4>b: Unknown symbol f (err -2)

            """)
        let a = try module("a"), b = try module("b")
        do {
            try await kernel.load(modulePath: a, name: "a")
            Issue.record("the injected refusal must refuse the load")
        } catch {
            #expect(error.errno == EINVAL)
            #expect(error.kernelMessages == ["livepatch: Livepatch patch (a) is not compatible with the already installed livepatches."])
        }
        do {
            try await kernel.load(modulePath: b, name: "b")
            Issue.record("the injected refusal must refuse the load")
        } catch {
            #expect(error.errno == ENOENT)
            #expect(error.kernelMessages == ["b: Unknown symbol f (err -2)"])
        }
        #expect((try await kernel.read()).loadedModules.isEmpty)
    }

    /// The kernel keeps what it decoded while a file's stamp stays the same; an edit in place of
    /// the same size can keep every part of the stamp when it falls in the clock tick of the last
    /// write (file times tick once a jiffy), which the kernel must not take for "unchanged".
    @Test("a module file edited by hand in place, same size, is read again: right after a read and later")
    func editedInPlace() async throws {
        try await kernel.load(modulePath: try module("a"), name: "a")
        let file = "\(root)/modules/a.json"
        func edit(_ from: String, _ to: String) throws {
            let text = try String(contentsOfFile: file, encoding: .utf8)
            #expect(from.utf8.count == to.utf8.count)
            let edited = try #require(text.range(of: from).map { text.replacingCharacters(in: $0, with: to) })
            let handle = try #require(FileHandle(forWritingAtPath: file))  // no truncation, no new inode
            try handle.write(contentsOf: Data(edited.utf8))
            try handle.close()
        }
        #expect(try await patch("a")?.functions == ["vmlinux:f"])
        try edit("\"vmlinux:f\"", "\"vmlinux:g\"")
        #expect(try await patch("a")?.functions == ["vmlinux:g"])
        // Past the window in which a stamp is not trusted: the edit changes the file's times.
        #expect(try await patch("a")?.functions == ["vmlinux:g"])
        try await Task.sleep(for: .milliseconds(250))
        #expect(try await patch("a")?.functions == ["vmlinux:g"])
        try edit("\"vmlinux:g\"", "\"vmlinux:h\"")
        #expect(try await patch("a")?.functions == ["vmlinux:h"])
    }

    @Test("the state outlives the process that made it: a second instance sees what is loaded")
    func persistent() async throws {
        try await kernel.load(modulePath: try module("a"), name: "a")
        let again = try SimulatedKernel(root: root, release: "6.1.0-sim-amd64")
        #expect((try await again.read()).patches.map(\.name) == ["a"])
    }
}
