import Foundation
import LivepatchAPI
import LivepatchCore
import LivepatchSystem
import Logging

/// Owns the patch ledger and drives the backend, one kernel step at a time.
///
/// Requests (socket calls, directory changes, timers) only change the ledger's intent and wake
/// the worker; the worker asks the ledger for the next step and performs it. So every apply and
/// revert runs in one place, serialized the way the kernel needs, whoever asked for it.
public actor PatchEngine {
    let backend: any PatchBackend
    var policy: Policy
    let scanner: PatchScanner
    let stateFile: StateFile
    let logger: Logger
    var ledger: PatchLedger
    /// Sampled tasks blocking the running transition, by patch name.
    var blockingTasks: [String: [BlockingTask]] = [:]
    private var subscribers: [UUID: AsyncStream<SubscribeReply>.Continuation] = [:]
    /// Set by ``rescan()``: the worker reconciles with the kernel before its next step.
    var reconcileRequested = false
    /// During ``start()``: a transition stuck past its timeout does not hold up READY=1.
    var bounded = false
    private var waiter: CheckedContinuation<Void, Never>?
    private var pendingWake = false
    private var timer: Task<Void, Never>?
    private var statusObservers: [@Sendable (String) -> Void] = []

    public init(backend: any PatchBackend, policy: Policy, scanner: PatchScanner, stateFile: StateFile, logger: Logger)
        throws(StateFile.Error)
    {
        self.backend = backend
        self.policy = policy
        self.scanner = scanner
        self.stateFile = stateFile
        self.logger = logger
        self.ledger = try stateFile.load()
    }

    /// Finds the truth before the daemon says READY=1: the kernel's view, the patch directory,
    /// and every step that follows (desired patches re-applied after a reboot). A transition the
    /// kernel keeps stuck past transition_timeout is left to the worker, so READY=1 still comes.
    public func start() async {
        bounded = true
        defer { bounded = false }
        await reconcile()
        await scanner.prepareDirectory(logger: logger)
        await scan()
        await drive()
    }

    /// The worker: performs steps whenever something changed or a timer is due.
    public func run() async {
        while !Task.isCancelled {
            let wakeAt = await drive()
            await waitForWake(until: wakeAt)
        }
        for continuation in subscribers.values { continuation.finish() }
    }

    public func wake() {
        if let waiter {
            self.waiter = nil
            waiter.resume()
        } else {
            pendingWake = true
        }
    }

    public func onStatusChange(_ observer: @escaping @Sendable (String) -> Void) {
        statusObservers.append(observer)
        observer(statusLine)
    }

    public func update(policy: Policy) {
        self.policy = policy
        wake()
    }

    // MARK: - Reading

    public func list() async -> [Patch] {
        let objects = await liveObjects()
        return ledger.records.keys.sorted().compactMap { name in ledger[name].map { view($0, objects: objects) } }
    }

    public func patch(_ name: String) async throws(LivepatchError) -> Patch {
        guard let record = ledger[name] else { throw .noSuchPatch(name) }
        return view(record, objects: await liveObjects())
    }

    /// Each loaded patch's objects as the kernel reports them right now: a module object can be
    /// loaded or removed at any time without the daemon being told.
    private func liveObjects() async -> [String: [PatchObject]] {
        guard let patches = try? await backend.livePatches() else { return [:] }
        return Dictionary(patches.map { ($0.name, $0.objects) }, uniquingKeysWith: { first, _ in first })
    }

    /// The wire view of a record with what only the engine knows: the sampled blocking tasks
    /// and, when given, the kernel's objects.
    func view(_ record: PatchRecord, objects: [String: [PatchObject]] = [:]) -> Patch {
        var patch = ledger.patch(record, blockingTasks: blockingTasks[record.name] ?? [])
        if patch.state.isLoaded || patch.state == .superseded { patch.objects = objects[patch.name] ?? [] }
        return patch
    }

    public func history() -> [HistoryEntry] { ledger.history }

    public func status() -> Status {
        let kernel = backend.support()
        let summary = ledger.summary(policy: policy, kernel: kernel, now: Date())
        return Status(
            summary: summary.line, degraded: !summary.problems.isEmpty, problems: summary.problems,
            backend: backend.kind, apply: policy.apply.rawValue, kernel: kernel, counts: ledger.counts(),
            daemonVersion: LivepatchDaemonVersion.current)
    }

    var statusLine: String { ledger.summary(policy: policy, kernel: backend.support(), now: Date()).line }

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
        if let reason = backend.support().unsupportedReason, ledger[name] != nil {
            throw LivepatchError(.notSupported, ["reason": reason])
        }
        do { try ledger.requestApply(name, runningRelease: backend.release) } catch { throw LivepatchError(error) }
        Failpoint.engineRequestBeforeSave.hit()
        save()
        return try await follow(name, until: .applied, progress: progress)
    }

    /// Reverts `name` and returns once it is reverted.
    public func revert(_ name: String, progress: @Sendable (SubscribeReply) async -> Void) async throws(LivepatchError) -> Patch {
        do { try ledger.requestRevert(name) } catch { throw LivepatchError(error) }
        Failpoint.engineRequestBeforeSave.hit()
        save()
        return try await follow(name, until: .reverted, progress: progress)
    }

    /// Reads the patch directory again now; the kernel is read again by the worker, between
    /// two steps, never in the middle of one.
    public func rescan() async -> [Patch] {
        reconcileRequested = true
        await scan()
        wake()
        return await list()
    }

    /// Follows `name` until its transition settles: returns on the first state that is not the
    /// transition itself (the success state, a failure, or anything a concurrent change made).
    private func follow(
        _ name: String, until success: PatchState,
        progress: @Sendable (SubscribeReply) async -> Void
    ) async throws(LivepatchError) -> Patch {
        let current = try await patch(name)
        if current.state == success { return current }
        let changes = subscribe(buffering: .unbounded)
        wake()
        for await change in changes where change.patch.name == name {
            await progress(change)
            if !change.entry.state.isInTransition { return change.patch }
        }
        // The stream ends when the caller went away or the daemon stops.
        return try await patch(name)
    }

    // MARK: - Recording changes

    /// Journal, history subscribers, status line and the state file: every change goes through here.
    func record(_ transitions: [Transition]) {
        guard !transitions.isEmpty else { return }
        for transition in transitions {
            log(transition)
            // Each change as it was: a forgotten foreign patch, or a reverted one an upgrade replaced
            // in the same step, is reported from its transition, not from the ledger now.
            let patch = view(transition.record)
            let entry = HistoryEntry(
                time: patch.since, name: transition.name, version: transition.record.descriptor.version,
                state: transition.to, reason: transition.record.reason)
            for continuation in subscribers.values { continuation.yield(SubscribeReply(entry: entry, patch: patch)) }
        }
        Failpoint.engineRecordBeforeSave.hit()
        save()
        let line = statusLine
        for observer in statusObservers { observer(line) }
    }

    func save() {
        do { try stateFile.save(ledger) } catch {
            logger.error("cannot save the state: \(error); the change is kept in memory and saved again with the next one")
        }
    }

    /// Sleeps until ``wake()`` is called or `until` passes; a wake that came while busy is not lost.
    private func waitForWake(until: Date?) async {
        timer?.cancel()
        timer = nil
        if pendingWake {
            pendingWake = false
            return
        }
        if let until {
            let delay = max(0, until.timeIntervalSinceNow)
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

extension PatchEngine {
    /// The patch directory changed: verify what is new and act on it.
    func rescanDirectory() async -> [Patch] {
        await scan()
        wake()
        return await list()
    }
}
