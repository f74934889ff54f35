import FoundationEssentials
import Glibc
import LivepatchAPI
import LivepatchCore
import LivepatchSystem
import Logging
import Synchronization

/// Carries out what the ``PatchMachine`` decides, and tells it what happened.
///
/// Every event (a step's outcome, the patch directory, an operator's request, time passing)
/// goes through ``feed(_:)``: the machine decides, synchronously, and the engine performs the
/// actions it returns in order: records and announces state changes, saves the state, and hands
/// the next kernel step to the worker (``run(onReady:)``), which carries out one step at a time.
/// Nothing else changes a record, so nothing changes under a step while it runs.
public actor PatchEngine {
    let backend: any PatchBackend
    let scanner: PatchScanner
    var stateFile: StateFile
    let logger: Logger
    var machine: PatchMachine
    private var subscribers: [UUID: AsyncStream<SubscribeReply>.Continuation] = [:]
    private var statusObservers: [@Sendable (String) -> Void] = []
    /// The step the machine asked for, waiting for the worker.
    private var pendingStep: PatchMachine.Step?
    private var wakeAt: Date?
    private var readyPending = false
    private var waiter: CheckedContinuation<Void, Never>?
    private var pendingWake = false
    private var timer: Task<Void, Never>?
    /// Counts the events the machine has handled: a view computed before the last one may be
    /// out of date. Read without the actor (the control socket's event loops).
    public nonisolated let events = EventCount()

    /// `bootID` tells this boot from the one the state was saved in (crash-loop quarantine).
    public init(
        backend: any PatchBackend, policy: Policy, bootID: String?, scanner: PatchScanner, stateFile: StateFile, logger: Logger
    ) throws(StateFile.Error) {
        self.backend = backend
        self.scanner = scanner
        var stateFile = stateFile
        let ledger = try stateFile.load()
        self.stateFile = stateFile
        self.logger = logger
        machine = PatchMachine(
            ledger: ledger, policy: policy, release: backend.release,
            unsupportedReason: backend.support().unsupportedReason, bootID: bootID)
    }

    /// The worker: reads the kernel and the patch directory, then carries out each step the
    /// machine asks for, until cancelled. `onReady` runs once, when both are read and what was
    /// due is done (desired patches re-applied after a reboot); a transition stuck past its
    /// timeout does not hold it up.
    public func run(onReady: @escaping @Sendable () async -> Void) async {
        feed(.tick)
        while !Task.isCancelled {
            if readyPending {
                readyPending = false
                await onReady()
            }
            if let step = pendingStep {
                pendingStep = nil
                let outcome = await carryOut(step)
                if Task.isCancelled { break }  // stopping: the kernel carries on, the next start follows it
                feed(.stepFinished(step, outcome))
            } else {
                await waitForWake()
                feed(.tick)
            }
        }
        for continuation in subscribers.values { continuation.finish() }
    }

    public func onStatusChange(_ observer: @escaping @Sendable (String) -> Void) {
        statusObservers.append(observer)
        observer(statusLine)
    }

    public func update(policy: Policy) { feed(.policyChanged(policy)) }

    /// A clean stop, remembered in the state: the next boot does not take it for a crash.
    public func stop() {
        feed(.stopping)
        do { try stateFile.foldChanges(machine.ledger) } catch {
            logger.error("cannot fold the saved changes into \(stateFile.path): \(error); the next start reads them as they are")
        }
    }

    // MARK: - Events in, actions out

    /// The one way into the machine; performs what it returns.
    func feed(_ event: PatchMachine.Event) {
        perform(machine.handle(event, now: Date()))
    }

    private func perform(_ actions: [PatchMachine.Action]) {
        events.increment()
        var saved = true
        var changes = 0
        for action in actions {
            switch action {
            case .changed(let change):
                changes += 1
                announce(change)
            case .note(let note):
                log(note)
            case .save:
                if changes > 0 { Failpoint.engineRecordBeforeSave.hit() }
                saved = save()
            case .perform(let step):
                if saved {
                    pendingStep = step
                    wake()
                } else {
                    // A step must not run ahead of a state the disk does not have (whose module it loads).
                    perform(machine.handle(.stepFinished(step, .notPerformed(reason: "the state cannot be saved")), now: Date()))
                }
            case .wake(let date):
                wakeAt = date
                // A worker asleep on an older (or no) wake-up time sets its timer again.
                if waiter != nil { wake() }
            case .ready:
                readyPending = true
                wake()
            }
        }
        if changes > 0 {
            let line = statusLine
            for observer in statusObservers { observer(line) }
        }
    }

    /// Carries out one step; only the worker calls this, so steps never overlap.
    private func carryOut(_ step: PatchMachine.Step) async -> PatchMachine.StepOutcome {
        do throws(BackendError) {
            switch step {
            case .read:
                return try await readKernel()
            case .watch(let name, let seen, let until):
                let deadline = ContinuousClock.now + .seconds(max(0, until.timeIntervalSinceNow))
                await backend.waitForTransition(name, from: seen, until: deadline)
                return try await readKernel()
            case .scan:
                guard let scan = await scan() else {
                    return .failed(PatchMachine.StepError("the patch directory cannot be read"))
                }
                return .scanned(scan)
            case .load(let name, let modulePath):
                try await backend.load(modulePath: modulePath, name: name)
            case .disable(let name):
                try await backend.disable(name)
            case .force(let name):
                try await backend.force(name)
            case .unload(let name):
                try await backend.unload(name)
            case .sampleBlockers(let name):
                return .blockers(await backend.blockingTasks(name))
            }
            return .done
        } catch {
            return .failed(error.stepError)
        }
    }

    private func readKernel() async throws(BackendError) -> PatchMachine.StepOutcome {
        let view = try await backend.read()
        Failpoint.reconcileAfterRead.hit()
        return .kernel(view)
    }

    private func scan() async -> PatchMachine.DirectoryScan? {
        guard let scan = await scanner.scan(logger: logger) else { return nil }
        if scan.arrivals.contains(where: { if case .verified = $0 { true } else { false } }) {
            Failpoint.scanVerifiedBeforeRecord.hit()
        }
        return scan
    }

    // MARK: - Reading

    public func list() async -> [Patch] {
        let objects = await liveObjects()
        let stacking = machine.ledger.stacking
        return machine.ledger.records.keys.sorted().compactMap { name in
            machine.ledger[name].map { view($0, objects: objects, stacking: stacking) }
        }
    }

    public func patch(_ name: String) async throws(LivepatchError) -> Patch {
        guard let record = machine.ledger[name] else { throw .noSuchPatch(name) }
        return view(record, objects: await liveObjects())
    }

    /// Each loaded patch's objects as the kernel reports them right now: a module object can be
    /// loaded or removed at any time without the daemon being told. Shown only; unknown if unreadable.
    private func liveObjects() async -> [String: [PatchObject]] {
        guard let view = try? await backend.read() else { return [:] }
        return Dictionary(view.patches.map { ($0.name, $0.objects) }, uniquingKeysWith: { first, _ in first })
    }

    /// The wire view of a record with what only the machine knows now: the sampled blocking
    /// tasks and, when given, the kernel's objects.
    func view(_ record: PatchRecord, objects: [String: [PatchObject]] = [:], stacking: PatchLedger.Stacking? = nil) -> Patch {
        var patch = machine.patch(record, stacking: stacking)
        if patch.state.isLoaded || patch.state == .superseded { patch.objects = objects[patch.name] ?? [] }
        return patch
    }

    public func history() -> [HistoryEntry] { machine.ledger.history }

    public func status() -> Status {
        let kernel = backend.support()
        let summary = machine.summary(kernel: kernel, now: Date())
        return Status(
            summary: summary.line, degraded: !summary.problems.isEmpty, problems: summary.problems,
            backend: backend.kind, apply: machine.policy.apply.rawValue, kernel: kernel, counts: machine.ledger.counts(),
            daemonVersion: LivepatchDaemonVersion.current)
    }

    /// ``status()`` with the ``events`` count and the time it was computed at.
    public func statusWithEvents() -> (status: Status, events: UInt64, computed: ContinuousClock.Instant) {
        (status(), events.value, .now)
    }

    var statusLine: String { machine.summary(kernel: backend.support(), now: Date()).line }

    /// Every state change from now on. A client that does not read is disconnected by the
    /// control socket long before 4096 changes pile up; the engine's own followers never lag.
    public func subscribe(
        buffering: AsyncStream<SubscribeReply>.Continuation.BufferingPolicy = .bufferingOldest(4096)
    ) -> AsyncStream<SubscribeReply> {
        let (stream, continuation) = AsyncStream.makeStream(of: SubscribeReply.self, bufferingPolicy: buffering)
        let id = UUID()
        subscribers[id] = continuation
        continuation.onTermination = { [weak self] _ in
            Task { await self?.unsubscribe(id) }
        }
        return stream
    }

    private func unsubscribe(_ id: UUID) { subscribers[id] = nil }

    // MARK: - Requests

    /// Applies `name` and returns once it is applied or failed; `progress` sees every state change.
    public func apply(_ name: String, progress: @Sendable (SubscribeReply) async -> Void) async throws(LivepatchError) -> Patch {
        try await request(name, until: .applied, progress: progress) { machine, now throws(PatchLedger.RequestError) in
            try machine.requestApply(name, now: now)
        }
    }

    /// Reverts `name` and returns once it is reverted.
    public func revert(_ name: String, progress: @Sendable (SubscribeReply) async -> Void) async throws(LivepatchError) -> Patch {
        try await request(name, until: .reverted, progress: progress) { machine, now throws(PatchLedger.RequestError) in
            try machine.requestRevert(name, now: now)
        }
    }

    /// Changes intent, then follows `name` until its transition settles: returns on the first state
    /// that is not the transition itself (the success state, a failure, or anything else that happened).
    private func request(
        _ name: String, until success: PatchState, progress: @Sendable (SubscribeReply) async -> Void,
        _ change: (inout PatchMachine, Date) throws(PatchLedger.RequestError) -> [PatchMachine.Action]
    ) async throws(LivepatchError) -> Patch {
        // Subscribed before the request, so no change it causes can be missed.
        let changes = subscribe(buffering: .unbounded)
        let actions: [PatchMachine.Action]
        do { actions = try change(&machine, Date()) } catch { throw LivepatchError(error) }
        Failpoint.engineRequestBeforeSave.hit()
        perform(actions)
        let current = try await patch(name)
        if current.state == success { return current }
        for await change in changes where change.patch.name == name {
            await progress(change)
            if !change.entry.state.isInTransition { return change.patch }
        }
        // The stream ends when the caller went away or the daemon stops.
        return try await patch(name)
    }

    /// Reads the kernel and the patch directory again; the kernel is read by the worker, between
    /// two steps, never in the middle of one.
    public func rescan() async -> [Patch] {
        feed(.rescanRequested)
        await directoryChanged()
        return await list()
    }

    /// The patch directory changed: verify what is new and tell the machine.
    func directoryChanged() async {
        guard let scan = await scan() else { return }
        feed(.scanned(scan))
    }

    // MARK: - Recording

    /// Journal and Subscribe; the state file is saved once per event, by the machine's `.save`.
    private func announce(_ change: StateChange) {
        log(change)
        // Each change as it was: a forgotten foreign patch, or a reverted one an upgrade replaced
        // in the same step, is reported from its change, not from the ledger now.
        let patch = view(change.record)
        let entry = HistoryEntry(
            time: patch.since, name: change.name, version: change.record.descriptor.version, state: change.to,
            reason: change.record.reason?.message)
        for continuation in subscribers.values { continuation.yield(SubscribeReply(entry: entry, patch: patch)) }
    }

    /// False when the state could not be written: kept in memory and saved again with the next change.
    private func save() -> Bool {
        do {
            try stateFile.save(machine.ledger)
            return true
        } catch {
            logger.error("cannot save the state: \(error); the change is kept in memory and saved again with the next one")
            return false
        }
    }

    // MARK: - Waiting

    private func wake() {
        if let waiter {
            self.waiter = nil
            waiter.resume()
        } else {
            pendingWake = true
        }
    }

    /// Sleeps until ``wake()`` or the machine's wake-up time; a wake that came while busy is not lost.
    private func waitForWake() async {
        timer?.cancel()
        timer = nil
        if pendingWake {
            pendingWake = false
            return
        }
        if let wakeAt {
            self.wakeAt = nil
            let delay = max(0, wakeAt.timeIntervalSinceNow)
            timer = Task { [weak self] in
                guard (try? await Task.sleep(for: .seconds(delay) + .milliseconds(5))) != nil else { return }
                await self?.wake()
            }
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { waiter = $0 }
        } onCancel: {
            Task { await self.wake() }
        }
        pendingWake = false
    }
}

public enum LivepatchDaemonVersion {
    public static let current = "0.1.0"
}

/// A count that only grows, read from any thread.
public final class EventCount: Sendable {
    private let count = Atomic<UInt64>(0)

    public var value: UInt64 { count.load(ordering: .acquiring) }

    func increment() { count.add(1, ordering: .releasing) }
}
