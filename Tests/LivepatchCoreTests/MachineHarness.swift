import Foundation
import LivepatchAPI

@testable import LivepatchCore

let testRelease = "6.1.0-test-amd64"
let t0 = Date(timeIntervalSince1970: 1_800_000_000)

/// Drives a ``PatchMachine`` the way the engine does, against a kernel modelled in a few lines:
/// it answers every step the machine asks for and records what was asked, what changed and what
/// was said. Time moves only when a step waits (`watch`) or the test moves it.
struct MachineHarness {
    var machine: PatchMachine
    var now = t0
    /// The modelled kernel: livepatches in sysfs, and loaded modules.
    var patches: [String: KernelPatch] = [:]
    var modules: Set<String> = []
    /// Functions each module patches when loaded, from the arrivals.
    var functions: [String: [String]] = [:]
    /// Transitions that do not end by themselves.
    var stalled: Set<String> = []
    /// Patches a replace took over stay in sysfs, disabled, until cleared (6.1 frees them in a
    /// work item after the transition ends).
    var lingerReplaced = false
    /// The next outcome for a kind of step, instead of the model's.
    var inject: [StepKind: PatchMachine.StepOutcome] = [:]
    /// Every kind of step fails this way until cleared.
    var failing: [StepKind: PatchMachine.StepError] = [:]
    /// What the directory holds: the next scan reports these arrivals and manifest files.
    var pendingArrivals: [PatchLedger.Arrival] = []
    var manifestFiles: Set<String> = []
    /// The halt files in the directory: every scan reports all of them.
    var halts: [VerifiedHalt] = []
    /// Boots so far: each reboot is a new boot id.
    var boots = 1

    var steps: [PatchMachine.Step] = []
    var changes: [StateChange] = []
    var notes: [PatchMachine.Note] = []
    var saves = 0
    var ready = false
    var wake: Date?
    /// The step the machine asked for, not yet answered.
    var asked: PatchMachine.Step?

    enum StepKind: Hashable { case read, watch, scan, load, disable, force, unload, sample }

    init(
        _ arrivals: PatchLedger.Arrival..., policy: Policy = Policy(), ledger: PatchLedger = PatchLedger(),
        release: String = testRelease, unsupported: String? = nil
    ) {
        machine = PatchMachine(ledger: ledger, policy: policy, release: release, unsupportedReason: unsupported, bootID: "boot-1")
        drop(arrivals)
    }

    mutating func drop(_ arrivals: [PatchLedger.Arrival]) {
        for arrival in arrivals {
            pendingArrivals.append(arrival)
            if let file = arrival.descriptor.manifestFile { manifestFiles.insert(file) }
            functions[arrival.descriptor.name] = arrival.descriptor.functions
        }
    }

    mutating func drop(_ arrivals: PatchLedger.Arrival...) { drop(arrivals) }

    subscript(name: String) -> PatchRecord? { machine.ledger[name] }

    /// `lpclient rescan` after the directory changed: the kernel and the directory read again.
    mutating func rescan() {
        send(.rescanRequested)
        send(.scanned(.init(arrivals: pendingArrivals, manifestFiles: manifestFiles, recheckAt: nil, halts: halts)))
        pendingArrivals = []
        run()
    }
    func state(_ name: String) -> PatchState? { machine.ledger[name]?.state }

    // MARK: - Feeding

    mutating func take(_ actions: [PatchMachine.Action]) {
        var saved = false
        for action in actions {
            switch action {
            case .changed(let change): changes.append(change)
            case .note(let note): notes.append(note)
            case .save:
                saves += 1
                saved = true
            case .perform(let step):
                precondition(asked == nil, "the machine asked for \(step) while \(asked!) runs")
                asked = step
                steps.append(step)
            case .wake(let date): wake = date
            case .ready: ready = true
            }
        }
        _ = saved
    }

    mutating func send(_ event: PatchMachine.Event) { take(machine.handle(event, now: now)) }

    mutating func requestApply(_ name: String) throws(PatchLedger.RequestError) { take(try machine.requestApply(name, now: now)) }
    mutating func requestRevert(_ name: String) throws(PatchLedger.RequestError) { take(try machine.requestRevert(name, now: now)) }

    /// Answers the step asked for, with the model's outcome (or an injected one).
    mutating func answer() {
        guard let step = asked else { return }
        asked = nil
        send(.stepFinished(step, outcome(of: step)))
    }

    /// Answers steps until the machine idles. A machine that keeps asking (a stuck transition it
    /// follows) stops the run after `limit` steps; `expectIdle` says whether that is a failure.
    mutating func run(limit: Int = 1000, expectIdle: Bool = true) {
        if asked == nil { send(.tick) }
        var count = 0
        while asked != nil, count < limit {
            answer()
            count += 1
        }
        precondition(!expectIdle || count < limit, "the machine did not settle within \(limit) steps: \(steps.suffix(10))")
    }

    /// Answers steps until `condition` holds (or `limit` steps).
    mutating func run(limit: Int = 1000, until condition: (Self) -> Bool) {
        if asked == nil { send(.tick) }
        var count = 0
        while asked != nil, count < limit, !condition(self) {
            answer()
            count += 1
        }
    }

    /// Lets time pass to `date` (the machine's wake-up by default) and runs.
    mutating func advance(to date: Date? = nil) {
        now = date ?? wake ?? now
        run()
    }

    mutating func advance(by seconds: Double) {
        now = now.addingTimeInterval(seconds)
        run()
    }

    // MARK: - The model

    func view() -> KernelView { KernelView(patches: patches.values.sorted { $0.name < $1.name }, loadedModules: modules) }

    private mutating func outcome(of step: PatchMachine.Step) -> PatchMachine.StepOutcome {
        let kind = Self.kind(step)
        if let outcome = inject.removeValue(forKey: kind) { return outcome }
        if let error = failing[kind] { return .failed(error) }
        switch step {
        case .read:
            return .kernel(view())
        case .watch(_, _, let until):
            endTransitions()
            if until > now { now = until }
            return .kernel(view())
        case .scan:
            let scan = PatchMachine.DirectoryScan(arrivals: pendingArrivals, manifestFiles: manifestFiles, recheckAt: nil, halts: halts)
            pendingArrivals = []
            return .scanned(scan)
        case .load(let name, _):
            if modules.contains(name) { return .failed(.init("module is already loaded", errno: EEXIST)) }
            if patches.values.contains(where: \.inTransition) { return .failed(.init("busy", errno: EBUSY)) }
            modules.insert(name)
            patches[name] = KernelPatch(name: name, enabled: true, inTransition: true, functions: functions[name] ?? [])
            return .done
        case .disable(let name):
            guard patches[name]?.enabled == true else { return .failed(.init("not enabled", errno: EINVAL)) }
            patches[name]?.enabled = false
            patches[name]?.inTransition = true
            return .done
        case .force(let name):
            stalled.remove(name)
            return .done
        case .unload(let name):
            if patches[name] != nil { return .failed(.init("still registered", errno: EBUSY)) }
            modules.remove(name)
            return .done
        case .sampleBlockers(let name):
            return .blockers(stalled.contains(name) ? [BlockingTask(pid: 42, comm: "stuck")] : [])
        }
    }

    /// Transitions end when the machine waits for them, unless stalled. A finished disable
    /// leaves sysfs; a finished replace takes the others out.
    private mutating func endTransitions() {
        for name in patches.keys.sorted() where patches[name]?.inTransition == true && !stalled.contains(name) {
            patches[name]!.inTransition = false
            if !patches[name]!.enabled {
                patches[name] = nil
                continue
            }
            if machine.ledger[name]?.descriptor.replace == true {
                for other in patches.keys where other != name {
                    if lingerReplaced {
                        patches[other]?.enabled = false
                    } else {
                        patches[other] = nil
                    }
                }
            }
        }
    }

    /// Someone else's doing, outside the machine.
    mutating func foreignLoad(_ name: String, functions: [String] = ["vmlinux:other"], inTransition: Bool = false) {
        modules.insert(name)
        patches[name] = KernelPatch(name: name, enabled: true, inTransition: inTransition, functions: functions)
    }

    /// The machine boots again: after a clean shutdown (the daemon stopped by the service
    /// manager first) or a crash.
    mutating func reboot(clean: Bool = true) {
        if clean { send(.stopping) }
        patches = [:]
        modules = []
        stalled = []
        boots += 1
        restart()
    }

    /// The daemon restarts; the kernel keeps what it has.
    mutating func restart() {
        let ledger = machine.ledger
        machine = PatchMachine(
            ledger: ledger, policy: machine.policy, release: machine.release, unsupportedReason: machine.unsupportedReason,
            bootID: "boot-\(boots)")
        ready = false
        asked = nil
    }

    static func kind(_ step: PatchMachine.Step) -> StepKind {
        switch step {
        case .read: .read
        case .watch: .watch
        case .scan: .scan
        case .load: .load
        case .disable: .disable
        case .force: .force
        case .unload: .unload
        case .sampleBlockers: .sample
        }
    }

    /// The kernel steps asked for, as short strings: `load a`, `disable a`, …
    var kernelSteps: [String] {
        steps.compactMap { step in
            switch step {
            case .load(let name, _): "load \(name)"
            case .disable(let name): "disable \(name)"
            case .force(let name): "force \(name)"
            case .unload(let name): "unload \(name)"
            default: nil
            }
        }
    }
}

/// A verified patch for the running kernel, as the scanner reports it.
func verified(
    _ name: String, functions: [String] = [], replace: Bool = false, release: String = testRelease, digest: String? = nil,
    version: String = "1", sequence: Int? = nil, released: Date? = nil, notAfter: Date? = nil, sha256: String? = nil
) -> PatchLedger.Arrival {
    var descriptor = PatchDescriptor(
        name: name, version: version, sha256: sha256 ?? String(repeating: "a", count: 64), manifestDigest: digest ?? "m-\(name)",
        kernels: [release], replace: replace, release: release, storedModulePath: "/store/\(digest ?? name)/\(name).ko",
        functions: functions, manifestFile: "\(name).json")
    descriptor.sequence = sequence
    descriptor.released = released
    descriptor.notAfter = notAfter
    return .verified(descriptor, note: nil)
}

func ledger(_ arrivals: PatchLedger.Arrival...) -> PatchLedger {
    var ledger = PatchLedger()
    for arrival in arrivals { _ = ledger.arrive(arrival, now: t0) }
    return ledger
}

extension PatchLedger {
    /// Runs a whole apply as the machine would after a clean transition.
    mutating func applyFully(_ name: String, at time: Date = t0) {
        _ = beginApply(name, now: time)
        _ = finishApply(name, functions: nil, now: time)
    }
}
