import FoundationEssentials
import Glibc
import LivepatchAPI
import LivepatchCore
import LivepatchSystem

/// A kernel that lives in a directory, so it outlives the daemon like a real one: a restarted
/// daemon finds what is still "loaded". Transitions end by the clock, not by the daemon.
///
/// Layout under the root:
/// - `modules/<name>.json`: one loaded module and its livepatch state.
/// - `inject/transition-delay`: seconds every transition takes (default 0.05).
/// - `inject/stall`: names (one a line) whose transitions never end while listed.
/// - `inject/fail-load`: loads the kernel refuses, one `NAME [ERRNO [LINE]]` a line: NAME's load
///   fails with ERRNO (`EINVAL`; ENOEXEC without one), and the kernel logs LINE (`<3>livepatch:
///   ...`, as `/dev/kmsg` shows it) at that moment; several lines for one name log several lines.
///   The backend picks what concerns NAME out of them as the kernel backend does from the journal.
/// - `inject/fail-read`: while not empty, reading the kernel's state fails (EIO), like an
///   unreadable sysfs.
/// - `boot_id`: this boot's id, made at the first start; a test "reboots" the simulated kernel by
///   removing it with `modules/`.
/// - `cmdline`: the kernel command line (`livepatchd.apply=off`); none when missing.
/// - `load.log`: one line per successful load (module name), so tests can prove nothing was
///   loaded twice.
/// - `.lock`: serializes the daemon and test tools that inject or load by hand.
///
/// It behaves like Linux 6.1 where the daemon must care: EEXIST for a second load, EBUSY for a
/// load or disable during another transition, EBUSY for removing a module whose patch is still
/// in sysfs; a replace patch disables every other patch when its transition ends. Which functions
/// a module patches comes from its modinfo key `livepatchd_sim_functions` (the real kernel knows
/// it from the module's `klp_patch`; the simulated one cannot run code).
public struct SimulatedKernel: PatchBackend {
    public let kind = "simulated"
    public let release: String
    public let root: String
    let moduleFiles = SimulatedModuleFiles()

    public init(root: String, release: String) throws(BackendError) {
        self.root = root
        self.release = release
        // Exact modes whatever the umask: the simulated kernel's files stand for kernel state,
        // which only its owner may change.
        for directory in ["modules", "inject"] {
            do { try Directory.create("\(root)/\(directory)", mode: 0o755) } catch {
                throw BackendError("create", root, "cannot create the simulated kernel directory: \(error)")
            }
        }
    }

    public func boot() -> BootInfo {
        let file = "\(root)/boot_id"
        if !FileManager.default.fileExists(atPath: file) {
            try? AtomicFile.write(Array((UUID().uuidString.lowercased() + "\n").utf8), to: file, mode: 0o644)
        }
        var info = BootInfo.read(bootIDFile: file, commandLineFile: "\(root)/cmdline")
        if info.commandLine == nil { info.commandLine = "" }
        return info
    }

    public func support() -> KernelSupport {
        KernelSupport(
            release: release, livepatch: true, ftrace: true, lockdown: "none", signatureEnforced: false, taint: 0,
            simulated: true)
    }

    public func read() async throws(BackendError) -> KernelView {
        try await locked { state throws(BackendError) in
            if !state.injected(.failRead).isEmpty {
                throw BackendError("read", root, "the simulated kernel cannot be read (injected read failure)", errno: EIO)
            }
            let patches = state.modules.values.filter(\.inSysfs).sorted { $0.name < $1.name }.map {
                // The simulated kernel has no other modules: every object counts as patched.
                let objects = Set($0.functions.compactMap { $0.split(separator: ":").first.map(String.init) })
                return KernelPatch(
                    name: $0.name, enabled: $0.enabled, inTransition: $0.transitionEnd != nil, functions: $0.functions,
                    objects: objects.sorted().map { PatchObject(name: $0, patched: true) })
            }
            return KernelView(patches: patches, loadedModules: Set(state.modules.keys))
        }
    }

    /// ``withState(_:)`` off the cooperative pool: it takes a `flock` that a test tool may hold.
    func locked<T: Sendable>(_ body: @escaping @Sendable (inout SimulatedState) throws(BackendError) -> T) async throws(BackendError) -> T {
        try await BlockingPool.shared.run { () throws(BackendError) -> T in try withState(body) }
    }

    public func load(modulePath: String, name: String) async throws(BackendError) {
        let info: ModuleInfo
        do { info = try ModuleInfo.read(path: modulePath) } catch {
            throw BackendError("load", name, "cannot read the module: \(error)", errno: ENOEXEC)
        }
        let functions = info.simulatedFunctions
        let replace = info.value("livepatchd_sim_replace") == "Y"
        try await locked { state throws(BackendError) in
            if let refusal = state.loadRefusal(name) {
                throw BackendError(
                    "load", name, "the kernel refused the module (injected load failure)", errno: refusal.errno,
                    kernelMessages: KernelMessages.about(name, in: refusal.logged))
            }
            if state.modules[name] != nil { throw BackendError("load", name, "module is already loaded", errno: EEXIST) }
            if state.modules.values.contains(where: { $0.transitionEnd != nil }) {
                throw BackendError("load", name, "another livepatch is in transition", errno: EBUSY)
            }
            state.lastSequence += 1
            state.loaded.append(name)
            state.modules[name] = SimulatedModule(
                name: name, functions: functions, replace: replace, enabled: true, inSysfs: true,
                transitionEnd: state.now + state.transitionDelay, sequence: state.lastSequence)
        }
    }

    public func disable(_ name: String) async throws(BackendError) {
        try await locked { state throws(BackendError) in
            guard var module = state.modules[name], module.inSysfs, module.enabled else {
                throw BackendError("disable", name, "the patch is not enabled", errno: EINVAL)
            }
            // Disabling the patch in transition reverses its transition, as klp_reverse_transition does.
            if state.modules.values.contains(where: { $0.transitionEnd != nil && $0.name != name }) {
                throw BackendError("disable", name, "a livepatch is in transition", errno: EBUSY)
            }
            module.enabled = false
            module.transitionEnd = state.now + state.transitionDelay
            state.modules[name] = module
        }
    }

    public func force(_ name: String) async throws(BackendError) {
        try await locked { state throws(BackendError) in
            guard var module = state.modules[name], module.transitionEnd != nil else {
                throw BackendError("force", name, "no transition is running", errno: EINVAL)
            }
            module.transitionEnd = state.now
            state.modules[name] = module
            // klp_force_transition marks every registered patch forced: none can be removed again.
            for other in state.modules.keys where state.modules[other]?.inSysfs == true {
                state.modules[other]?.forced = true
            }
        }
    }

    public func unload(_ name: String) async throws(BackendError) {
        try await locked { state throws(BackendError) in
            guard let module = state.modules[name] else {
                throw BackendError("unload", name, "module is not loaded", errno: ENOENT)
            }
            if module.inSysfs { throw BackendError("unload", name, "the livepatch is still registered", errno: EBUSY) }
            if module.forced { throw BackendError("unload", name, "a forced livepatch can never be removed", errno: EBUSY) }
            state.modules[name] = nil
        }
    }

    public func blockingTasks(_ name: String) async -> [BlockingTask] {
        let stalled = (try? await locked { state in
            state.modules[name]?.transitionEnd != nil && state.injected(.stall).contains(name)
        }) ?? false
        return stalled ? [BlockingTask(pid: 4242, comm: "sim-stalled")] : []
    }

    /// Sleeps until the simulated transition's end, never longer than 100 ms: `seen` is not
    /// needed, as the wait is short enough to look again anyway.
    public func waitForTransition(_ name: String, from seen: KernelPatch, until deadline: ContinuousClock.Instant) async {
        let end = (try? await locked { $0.modules[name]?.transitionEnd }) ?? nil
        let clock = ContinuousClock()
        // A stall can be lifted by a test at any time: look again at least every 100 ms then.
        var wait = Duration.milliseconds(100)
        if let end { wait = min(wait, .seconds(max(0, end - Date().timeIntervalSince1970)) + .milliseconds(1)) }
        let until = min(deadline, clock.now + wait)
        try? await Task.sleep(until: until, clock: clock)
    }
}
