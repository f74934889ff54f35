import FoundationEssentials
import Glibc
import LivepatchAPI

/// The one decision-maker of the daemon: it takes events (what the patch directory holds, an
/// operator's request, what the kernel shows, how a step ended, time passing) and returns the
/// actions to carry out (read the kernel, load this store file, disable, force, unload, wake me
/// at T, record this state change).
///
/// Every decision about a patch's next kernel step is taken here, and nowhere else: the order of
/// applies and reverts, waiting for another transition, `transition_timeout` with and without
/// `force_after_timeout`, rollbacks, removing modules the kernel no longer uses (and retrying a
/// busy one), a reboot's loss versus a patch disabled by hand, and when the daemon is ready.
/// It does no I/O and reads no clock. It asks for one kernel step at a time, because the kernel
/// serializes transitions (a load during another transition fails with EBUSY), and nothing it
/// decides changes while that step runs: the step's outcome comes back as an event.
public struct PatchMachine: Sendable {
    public internal(set) var ledger: PatchLedger
    public internal(set) var policy: Policy
    /// The running kernel's release: the one place it is compared with a patch's.
    public let release: String
    /// Why nothing can be applied on this kernel (no livepatch support), or nil.
    public let unsupportedReason: String?
    /// `/proc/sys/kernel/random/boot_id`: which boot enables are recorded in (quarantine); nil
    /// when unreadable (then nothing is quarantined).
    public let bootID: String?

    /// The kernel as last read; nil before the first read.
    var kernel: KernelView?
    /// The kernel must be read before the next decision (after every step, on a rescan).
    var needsRead = true
    /// The last read failed: nothing is decided on the kernel's behalf until it reads again.
    var readFailure: ReadFailure?
    /// The patch directory must be read (at start, before anything is applied).
    var needsScan = true
    /// A bundle file was still being written: read the directory again then.
    var scanDue: Date?
    /// The step being carried out; no other is asked for until its outcome arrives.
    public internal(set) var step: Step?
    /// Sampled tasks blocking a running transition, by patch.
    public internal(set) var blockers: [String: [BlockingTask]] = [:]
    var nextSample: [String: Date] = [:]
    /// When to say again that a transition is still running.
    var nextWarning: [String: Date] = [:]
    /// Forced transitions, not forced twice.
    var forced: Set<String> = []
    /// Other transitions already said to be waited for.
    var waitsLogged: Set<String> = []
    /// Modules that would not unload: retried until then (busy) or left until the next rescan.
    var unloadRetry: [String: UnloadRetry] = [:]
    /// Nothing is loaded before then: the state could not be saved before a load.
    var holdUntil: Date?
    public internal(set) var isReady = false
    /// Enables of an earlier boot are judged once, before anything is applied.
    var needsBootCheck = true
    /// The verified halt files in the patch directory now.
    public internal(set) var halts: [VerifiedHalt] = []
    /// Halt files that did not verify, one line each, for the status.
    public internal(set) var haltProblems: [String] = []

    public init(ledger: PatchLedger, policy: Policy, release: String, unsupportedReason: String?, bootID: String? = nil) {
        self.ledger = ledger
        self.policy = policy
        self.release = release
        self.unsupportedReason = unsupportedReason
        self.bootID = bootID
    }

    // MARK: - Vocabulary

    public enum Event: Sendable {
        /// Time passed, or the worker woke up: decide again.
        case tick
        /// The outcome of the step the machine asked for.
        case stepFinished(Step, StepOutcome)
        /// The patch directory was read (by the machine's step, or when it changed).
        case scanned(DirectoryScan)
        /// `lpclient rescan`, a reload: read the kernel and the directory again.
        case rescanRequested
        case policyChanged(Policy)
        /// The daemon stops cleanly (SIGTERM): remembered, so the next boot does not quarantine.
        case stopping
    }

    /// One thing the worker does, one at a time.
    public enum Step: Sendable, Equatable {
        /// Read `/sys/kernel/livepatch` and the loaded modules.
        case read
        /// Wait until `name`'s `enabled` or `transition` differs from `seen`, the state this
        /// decision was made on, or its directory is gone; at the latest `until`; then read.
        /// Against what was seen, not what the wait finds when it starts: a transition that ended
        /// in between (during a blocker sample, say) must end the wait at once, not at `until`.
        case watch(String, seen: KernelPatch, until: Date)
        /// Read the patch directory.
        case scan
        /// Insert the module; the kernel enables the patch and starts its transition.
        case load(String, modulePath: String)
        /// `echo 0 > enabled`.
        case disable(String)
        /// `echo 1 > force`.
        case force(String)
        /// Remove the module.
        case unload(String)
        /// The tasks that block `name`'s transition.
        case sampleBlockers(String)
    }

    public enum StepOutcome: Sendable {
        /// Done (load, disable, force, unload).
        case done
        case failed(StepError)
        /// What the kernel shows (read, watch).
        case kernel(KernelView)
        case blockers([BlockingTask])
        case scanned(DirectoryScan)
        /// Not carried out: the state could not be saved first (a load must be on disk first,
        /// so a restart knows whose module it is).
        case notPerformed(reason: String)
    }

    public struct StepError: Error, Sendable, Equatable {
        /// What failed, in the daemon's words ("the kernel refused the module"); no store path.
        public var message: String
        public var errno: Int32?
        /// The kernel's log lines of that moment about the patch (``KernelMessages``), if any.
        public var kernelMessages: [String]

        public init(_ message: String, errno: Int32? = nil, kernelMessages: [String] = []) {
            self.message = message
            self.errno = errno
            self.kernelMessages = kernelMessages
        }

        /// The one place a failed step is put into words, for reasons and the journal: the
        /// kernel's own lines when it logged any (else the daemon's message), the errno once
        /// after them, then a hint for the common cases.
        public var detail: String {
            var text = kernelMessages.isEmpty
                ? message : "the kernel said " + kernelMessages.map { "\"\($0)\"" }.joined(separator: ", ")
            if let errno { text += " (\(String(cString: strerror(errno))))" }
            if let hint { text += "; hint: \(hint)" }
            return text
        }

        public var hint: String? { KernelMessages.hint(for: kernelMessages, errno: errno) }

        /// The reason a patch gets from this failure: `what` failed, and how, with the kernel's
        /// lines kept for the journal.
        func reason(_ code: PatchReason.Code, _ what: String) -> PatchReason {
            PatchReason(code, "\(what): \(detail)", kernelMessages: kernelMessages)
        }
    }

    public enum Action: Sendable, Equatable {
        case changed(StateChange)
        case note(Note)
        /// Save the ledger; a step after a failed save is not carried out.
        case save
        case perform(Step)
        /// Nothing to do before then, unless an event comes.
        case wake(at: Date)
        /// The kernel and the directory are read and what was due is done (READY=1).
        case ready
    }

    /// Decisions worth telling the operator, for the journal.
    public enum Note: Sendable, Equatable {
        case willSupersede(String, others: [String])
        case waitingForTransition(String, other: String)
        case blocked(String, state: PatchState, tasks: [BlockingTask])
        case forcing(String, seconds: Int, blockers: [BlockingTask])
        case rollingBack(String, reason: String)
        case stillWaiting(String, what: String, seconds: Int, blockers: [BlockingTask])
        case forceFailed(String, detail: String)
        case disableFailed(String, detail: String)
        case moduleStaysLoaded(String, detail: String)
        case stillLeaving([String])
        case kernelUnreadable(detail: String, retryInSeconds: Int)
        case kernelReadable
        case manifestRemoved(String)
        case disabledOutside(String)
        case notRecorded(String, detail: String)
        /// A bundle for a loaded patch was refused; the loaded one stays.
        case arrivalRefused(String, reason: PatchReason)
        case haltReverts(String, file: String)
        case haltProblems([String])
    }

    public struct DirectoryScan: Sendable, Equatable {
        /// What changed since the last scan.
        public var arrivals: [PatchLedger.Arrival]
        /// Every manifest file in the directory now: records of the others go (pending, rejected).
        public var manifestFiles: Set<String>
        /// A file was still being written: read again then.
        public var recheckAt: Date?
        /// Every halt file that verified, and why the others did not.
        public var halts: [VerifiedHalt]
        public var haltProblems: [String]
        public init(
            arrivals: [PatchLedger.Arrival], manifestFiles: Set<String>, recheckAt: Date?, halts: [VerifiedHalt] = [],
            haltProblems: [String] = []
        ) {
            self.arrivals = arrivals
            self.manifestFiles = manifestFiles
            self.recheckAt = recheckAt
            self.halts = halts
            self.haltProblems = haltProblems
        }
    }

    struct ReadFailure: Sendable {
        var detail: String
        var attempts: Int
        var retryAt: Date
    }

    struct UnloadRetry: Sendable {
        var until: Date
        var next: Date?
    }

    /// How long a module the kernel still holds is retried (EBUSY): the kernel frees replaced
    /// patches in a work item after the transition ends.
    static let unloadPatience: TimeInterval = 30
    static let sampleInterval: TimeInterval = 1
    /// How often the tasks blocking a transition are read again. Slower than the kernel's own
    /// retries (each second): a stalled transition is followed for up to `transition_timeout`,
    /// and each look costs a walk of `/proc` (every 10 s) or a read of the last blockers; what it
    /// finds is for `lpclient show` and the journal, where a few seconds late is still news.
    static let blockerSampleInterval: TimeInterval = 5

    // MARK: - Handling events

    public mutating func handle(_ event: Event, now: Date) -> [Action] {
        var out = Output(before: ledger)
        checkBoot(&out, now: now)
        switch event {
        case .tick:
            break
        case .stopping:
            // Saved, and nothing else decided: no step starts while the daemon stops.
            if let bootID { ledger.cleanStop(bootID: bootID, now: now) }
            return out.actions(after: ledger)
        case .policyChanged(let policy):
            self.policy = policy
        case .rescanRequested:
            needsRead = true
            unloadRetry = [:]
        case .scanned(let scan):
            record(scan, &out, now: now)
        case .stepFinished(let finished, let outcome):
            if step == finished { step = nil }
            finish(finished, outcome, &out, now: now)
        }
        out.changes(ledger.settle(now: now, settleTimeout: policy.settleTimeout))
        enforceRollout(&out, now: now)
        decide(&out, now: now)
        return out.actions(after: ledger)
    }

    /// `Apply(name)`: wanted from now on; the answer comes as its state changes.
    public mutating func requestApply(_ name: String, now: Date) throws(PatchLedger.RequestError) -> [Action] {
        if let unsupportedReason, ledger[name] != nil { throw .notSupported(reason: unsupportedReason) }
        if policy.apply == .off, let record = ledger[name], !record.state.isLoaded {
            throw .invalidState(
                name: name, state: record.state,
                reason: "applying is off (\(policy.applyOffSource ?? "apply = \"off\"")): nothing is applied until it is turned on")
        }
        var out = Output(before: ledger)
        try ledger.requestApply(name, runningRelease: release)
        decide(&out, now: now)
        return out.actions(after: ledger)
    }

    /// `Revert(name)`: refused while another applied patch is stacked on top of it.
    public mutating func requestRevert(_ name: String, now: Date) throws(PatchLedger.RequestError) -> [Action] {
        var out = Output(before: ledger)
        try ledger.requestRevert(name)
        decide(&out, now: now)
        return out.actions(after: ledger)
    }

    /// Why the kernel's state is not known right now, for the status.
    public var kernelProblem: String? {
        readFailure.map { "the kernel's livepatch state cannot be read: \($0.detail); retrying" }
    }

    /// Collects the actions of one event, the ledger saved once if it changed, before any step.
    struct Output {
        let before: PatchLedger
        var list: [Action] = []
        var next: [Action] = []

        init(before: PatchLedger) { self.before = before }

        mutating func changes(_ changes: [StateChange]) { list += changes.map(Action.changed) }
        mutating func change(_ change: StateChange) { list.append(.changed(change)) }
        mutating func note(_ note: Note) { list.append(.note(note)) }
        /// The step (or wake, or ready) goes after the save.
        mutating func then(_ action: Action) { next.append(action) }

        func actions(after ledger: PatchLedger) -> [Action] {
            list + (ledger == before ? [] : [.save]) + next
        }
    }
}
