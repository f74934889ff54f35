import FoundationEssentials
import Glibc
import Synchronization
import LivepatchAPI
import LivepatchCore
import LivepatchSystem

/// The real kernel: modules through libkmod, patches through `/sys/kernel/livepatch`, blocking
/// tasks from `/proc/<pid>/task/<tid>/patch_state`, why it refused a step from its log. The roots
/// and the log are injectable for tests.
public struct KernelBackend: PatchBackend {
    public let kind = "kernel"
    public let release: String
    let sysfsRoot: String
    let procRoot: String
    let kernelLog: any KernelLog
    /// How often every task in `/proc` is looked at during a transition; in between, only the
    /// tasks that blocked at the last walk are read again.
    let fullWalkInterval: Duration
    private let lastWalk = LastBlockerWalk()

    public init(
        sysfsRoot: String = "/sys", procRoot: String = "/proc", release: String = runningKernelRelease(),
        kernelLog: any KernelLog = JournalKernelLog(), fullWalkInterval: Duration = .seconds(10)
    ) {
        self.sysfsRoot = sysfsRoot
        self.procRoot = procRoot
        self.release = release
        self.kernelLog = kernelLog
        self.fullWalkInterval = fullWalkInterval
    }

    var livepatchRoot: String { "\(sysfsRoot)/kernel/livepatch" }

    public func boot() -> BootInfo {
        BootInfo.read(bootIDFile: "\(procRoot)/sys/kernel/random/boot_id", commandLineFile: "\(procRoot)/cmdline")
    }

    public func support() -> KernelSupport {
        KernelSupportProbe(sysfsRoot: sysfsRoot, procRoot: procRoot).probe(release: release, simulated: false)
    }

    public func read() async throws(BackendError) -> KernelView {
        KernelView(patches: try livePatches(), loadedModules: try loadedModules())
    }

    private func livePatches() throws(BackendError) -> [KernelPatch] {
        guard FileManager.default.fileExists(atPath: livepatchRoot) else { return [] }
        let names: [String]
        do { names = try Directory.entries(livepatchRoot) } catch {
            throw BackendError("read", livepatchRoot, "cannot list it: \(error)")
        }
        var patches: [KernelPatch] = []
        for name in names.sorted() {
            let directory = "\(livepatchRoot)/\(name)"
            let enabled: String
            let transition: String
            do throws(SystemError) {
                enabled = try Self.attribute(directory, "enabled")
                transition = try Self.attribute(directory, "transition")
            } catch {
                // Gone between the listing and the read: its transition ended. Anything else
                // (EIO, EMFILE) leaves the kernel's state unknown, which is not "gone".
                if error.errno == ENOENT, !FileManager.default.fileExists(atPath: directory) { continue }
                throw BackendError("read", name, "cannot read \(directory)", errno: error.errno)
            }
            patches.append(
                KernelPatch(
                    name: name, enabled: enabled == "1", inTransition: transition == "1", functions: functions(directory),
                    objects: objects(directory)))
        }
        return patches
    }

    /// `/sys/module/<name>` for every loaded module (and some built-in ones, which no patch is named for).
    private func loadedModules() throws(BackendError) -> Set<String> {
        do { return Set(try Directory.entries("\(sysfsRoot)/module")) } catch {
            throw BackendError("read", "\(sysfsRoot)/module", "cannot list the loaded modules: \(error)")
        }
    }

    /// A sysfs attribute: one small read, its error kept.
    private static func attribute(_ directory: String, _ name: String) throws(SystemError) -> String {
        let path = "\(directory)/\(name)"
        let fd = try retryingOnInterrupt("open", path) { open(path, O_RDONLY | O_CLOEXEC) }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = try retryingOnInterrupt("read", path) { buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) } }
        return String(String(decoding: buffer[0..<count], as: UTF8.self).trimmed)
    }

    /// `<patch>/<object>/<function,sympos>` directories name what the patch redirects.
    private func functions(_ directory: String) -> [String] {
        let objects = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return objects.flatMap { object -> [String] in
            guard Directory.exists("\(directory)/\(object)") else { return [] }
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: "\(directory)/\(object)")) ?? []
            return entries.filter { $0.firstIndex(of: ",") != nil }.map { "\(object):\($0.split(separator: ",")[0])" }
        }.sorted()
    }

    /// `<patch>/<object>/patched`: 0 for a module object that is not loaded (yet).
    private func objects(_ directory: String) -> [PatchObject] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return entries.sorted().compactMap { object in
            attribute("\(directory)/\(object)", "patched").map { PatchObject(name: object, patched: $0 == "1") }
        }
    }

    private func attribute(_ directory: String, _ name: String) -> String? {
        (try? String(contentsOfFile: "\(directory)/\(name)", encoding: .utf8)).map { String($0.trimmed) }
    }

    /// The enable happens inside the insert (the module's init calls klp_enable_patch), so a
    /// refused enable fails the load too. Neither the store path nor libkmod's names go into the
    /// error: the operator needs the kernel's words.
    public func load(modulePath: String, name: String) async throws(BackendError) {
        let mark = kernelLog.mark()
        do { try KernelModules().insert(path: modulePath) } catch {
            let message =
                error.operation == "kmod_module_insert_module"
                ? "the kernel refused the module" : "the stored module cannot be read (\(error.operation))"
            let said = await kernelLog.lines(about: name, since: mark)
            throw BackendError("load", name, message, errno: error.errno, kernelMessages: said)
        }
    }

    public func disable(_ name: String) async throws(BackendError) {
        try await write("0", "enabled", operation: "disable", patch: name)
    }

    public func force(_ name: String) async throws(BackendError) {
        try await write("1", "force", operation: "force", patch: name)
    }

    public func unload(_ name: String) async throws(BackendError) {
        do { try KernelModules().remove(name: name) } catch {
            throw BackendError("unload", name, "the kernel did not remove the module", errno: error.errno)
        }
    }

    /// Writes `<patch>/<attribute>`; when the kernel refuses, its log says why.
    private func write(_ value: String, _ attribute: String, operation: String, patch: String) async throws(BackendError) {
        let path = "\(livepatchRoot)/\(patch)/\(attribute)"
        let mark = kernelLog.mark()
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw BackendError(operation, patch, "cannot open \(attribute)", errno: errno) }
        defer { close(fd) }
        let written = value.withCString { pointer in Glibc.write(fd, pointer, strlen(pointer)) }
        guard written < 0 else { return }
        let refusal = errno
        let said = await kernelLog.lines(about: patch, since: mark)
        throw BackendError(operation, patch, "the kernel refused to write \(attribute)", errno: refusal, kernelMessages: said)
    }

    /// A task blocks while its patch_state is neither -1 (no transition) nor the target state.
    /// The walk over every task in `/proc` runs off the cooperative pool.
    public func blockingTasks(_ name: String) async -> [BlockingTask] {
        await BlockingPool.shared.run { () -> [BlockingTask] in blockingTasksNow(name) }
    }

    /// Walking every task of a busy machine each second cost about 0.4 s of CPU per walk under
    /// qemu TCG. Within one transition a task only ever moves to the target state, so between two
    /// full walks only the tasks that still blocked at the last one are read again; the full walk
    /// every `fullWalkInterval` finds tasks forked since from a task not yet switched. One
    /// transition is one patch directory (its inode: a reloaded patch gets a new one) and one
    /// direction; when none of the known blockers blocks any more, a full walk makes sure.
    private func blockingTasksNow(_ name: String) -> [BlockingTask] {
        let directory = "\(livepatchRoot)/\(name)"
        var status = stat()
        guard lstat(directory, &status) == 0, let enabled = attribute(directory, "enabled") else { return [] }
        let transition = LastBlockerWalk.Transition(name: name, directory: UInt64(status.st_ino), target: enabled == "1" ? "1" : "0")
        let now = ContinuousClock.now
        if let known = lastWalk.recent(transition, since: now - fullWalkInterval) {
            let still = blocking(among: known, target: transition.target)
            if !still.tasks.isEmpty {
                lastWalk.record(transition, blocking: still.tasks, walkedAt: nil)
                return still.blockers
            }
        }
        let everyTask = Self.numericEntries(procRoot).flatMap { pid in
            Self.numericEntries("\(procRoot)/\(pid)/task").map { TaskPath(pid: pid, tid: $0) }
        }
        let found = blocking(among: everyTask, target: transition.target)
        lastWalk.record(transition, blocking: found.tasks, walkedAt: now)
        return found.blockers
    }

    /// Which of `tasks` are neither outside a transition (-1) nor in the target state.
    private func blocking(among tasks: [TaskPath], target: String) -> (tasks: [TaskPath], blockers: [BlockingTask]) {
        var blocking: [TaskPath] = []
        var blockers: [BlockingTask] = []
        for task in tasks {
            let directory = "\(procRoot)/\(task.pid)/task/\(task.tid)"
            guard let state = try? Self.attribute(directory, "patch_state"), state != "-1", state != target,
                let tid = Int(task.tid)
            else { continue }
            blocking.append(task)
            blockers.append(BlockingTask(pid: tid, comm: (try? Self.attribute(directory, "comm")) ?? "?"))
        }
        return (blocking, blockers)
    }

    /// The numeric names in a `/proc` directory (processes, or a process's tasks); none when it
    /// went away meanwhile (a task that exited blocks nothing).
    private static func numericEntries(_ directory: String) -> [String] {
        ((try? Directory.entries(directory)) ?? []).filter { !$0.isEmpty && $0.utf8.allSatisfy { (0x30...0x39).contains($0) } }
    }

    /// The livepatch attributes cannot be polled (the kernel never calls sysfs_notify on them),
    /// so they are re-read through descriptors kept open: one pread(2) per attribute and tick, no
    /// directory walk. A transition ends either at once (every task switched on the first try)
    /// or at one of the kernel's retries, once a second (klp_transition_work_fn). The first
    /// ticks are 5 ms apart and stretch to 50 ms, so the end of the first retry, where most
    /// transitions end, is seen within 50 ms; past it they stretch to 250 ms. That retry comes
    /// 0.75 to 1.75 s after the first try (`round_jiffies_relative(HZ)` rounds to the nearest
    /// whole second): the fast ticks last 2 s, as with 1.5 s a transition that ended late in that
    /// window could be seen up to 250 ms late. Under TCG the ticks were most of the
    /// daemon's CPU while a stalled transition ran (about 25 a second, each a timer, a task
    /// switch and two reads).
    public func waitForTransition(_ name: String, from seen: KernelPatch, until deadline: ContinuousClock.Instant) async {
        let directory = "\(livepatchRoot)/\(name)"
        let attributes = ["enabled", "transition"].map { open("\(directory)/\($0)", O_RDONLY | O_CLOEXEC) }
        defer { for fd in attributes where fd >= 0 { close(fd) } }
        guard attributes.allSatisfy({ $0 >= 0 }) else { return }  // the directory is gone: done
        let expected: [String?] = [seen.enabled, seen.inTransition].map { $0 ? "1" : "0" }
        // An attribute that cannot be read differs too: the read after the wait says what it is.
        func moved() -> Bool { attributes.map { Self.readAttribute($0).map { String($0.trimmed) } } != expected }
        let clock = ContinuousClock()
        let pastFirstRetry = clock.now + .milliseconds(2000)
        var tick = Duration.milliseconds(5)
        while !moved(), clock.now < deadline, !Task.isCancelled {
            try? await Task.sleep(until: min(deadline, clock.now + tick), clock: clock)
            tick = min(tick * 3 / 2, clock.now < pastFirstRetry ? .milliseconds(50) : .milliseconds(250))
        }
    }

    /// The attribute's value read again from offset 0; nil once the kernel removed it.
    private static func readAttribute(_ fd: Int32) -> String? {
        var buffer = [UInt8](repeating: 0, count: 16)
        let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard count >= 0 else { return nil }
        return String(decoding: buffer[0..<count], as: UTF8.self)
    }
}

/// One task's directory under `/proc`: `<pid>/task/<tid>`.
struct TaskPath: Sendable, Equatable {
    var pid: String
    var tid: String
}

/// The tasks that blocked a transition at the last look, and when every task was last walked.
final class LastBlockerWalk: Sendable {
    /// One transition: a patch's directory in sysfs (by inode) and the state tasks move to.
    struct Transition: Equatable {
        var name: String
        var directory: UInt64
        var target: String
    }

    private struct Walk {
        var transition: Transition
        var walkedAt: ContinuousClock.Instant
        var blocking: [TaskPath]
    }
    private let last = Mutex<Walk?>(nil)

    /// The tasks to read again, or nil when a full walk is due (another transition, or the last
    /// full walk is older than `since`).
    func recent(_ transition: Transition, since: ContinuousClock.Instant) -> [TaskPath]? {
        last.withLock { walk in
            guard let walk, walk.transition == transition, walk.walkedAt >= since else { return nil }
            return walk.blocking
        }
    }

    func record(_ transition: Transition, blocking: [TaskPath], walkedAt: ContinuousClock.Instant?) {
        last.withLock { walk in
            if let walkedAt {
                walk = Walk(transition: transition, walkedAt: walkedAt, blocking: blocking)
            } else if walk?.transition == transition {
                walk?.blocking = blocking
            }
        }
    }
}
