#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Crash injection: named places where livepatchd kills itself with SIGKILL when a test asks,
/// to prove that a crash at any of them never loses or double-applies a patch.
///
/// Armed only by the environment, read once at the first hit (the variables do not change while
/// the process runs):
/// - `LIVEPATCHD_FAILPOINT=<point>[:<n>]`: the n-th time (default 1) `<point>` is reached, the
///   process raises SIGKILL. No cleanup, no flush, no unwinding: exactly what a crash, an OOM
///   kill or `kill -9` leaves behind.
/// - `LIVEPATCHD_FAILPOINT_TRACE=<file>`: every hit of every point is appended to `<file>` as a
///   line `<point> <n>` (and `<point> <n> kill` for the fatal one), so a harness can run an
///   operation once unarmed, list the points it passes, then kill it at each in turn.
///
/// Unset, a hit costs one check of a value captured at the first hit. An unknown point name is
/// reported on stderr and the process exits 78 (EX_CONFIG): a typo must not silently test nothing.
///
/// Names are `area.step.when`. Each exists because a crash exactly there leaves a different
/// mix of disk and kernel state for the next start to reconcile:
public enum Failpoint: String, CaseIterable, Sendable {
    /// The state file's new contents (all of `state.json`, or one change in `state.changes/`)
    /// are written and fsynced to a temporary file, not renamed: the next start must read the
    /// previous state, whole.
    case stateWriteBeforeRename = "state.write.before-rename"
    /// Renamed into place, the directory not yet fsynced: the new state, whole.
    case stateWriteAfterRename = "state.write.after-rename"
    /// A state change is recorded in memory (ledger and history) and announced, not saved:
    /// the disk is one step behind the kernel.
    case engineRecordBeforeSave = "engine.record.before-save"
    /// An operator's Apply or Revert changed the ledger's intent, not saved, not answered.
    case engineRequestBeforeSave = "engine.request.before-save"
    /// `applying` is saved, the module not inserted: the kernel has nothing.
    case backendLoadBefore = "backend.load.before"
    /// Inserted (the kernel enabled it and runs its transition), `applied` not recorded. The
    /// kernel's load is insert and enable in one: there is no separate enable step to cut.
    case backendLoadAfter = "backend.load.after"
    /// `reverting` (or a rollback) is saved, `enabled` not yet written.
    case backendDisableBefore = "backend.disable.before"
    /// `enabled` written 0, the reverse transition runs, nothing recorded.
    case backendDisableAfter = "backend.disable.after"
    /// The patch left sysfs, its module is still loaded.
    case backendUnloadBefore = "backend.unload.before"
    /// The module is removed, `reverted`/`superseded`/`failed` not recorded.
    case backendUnloadAfter = "backend.unload.after"
    /// A transition past its timeout, about to be forced (force_after_timeout).
    case backendForceBefore = "backend.force.before"
    /// Forced, not recorded.
    case backendForceAfter = "backend.force.after"
    /// A verified module is copied into a temporary file in the store, not committed.
    case storeStageAfterCopy = "store.stage.after-copy"
    /// The module is renamed into the store, its manifest not yet written next to it.
    case storeCommitAfterModule = "store.commit.after-module"
    /// Module and manifest stored, the signature not yet.
    case storeCommitAfterManifest = "store.commit.after-manifest"
    /// A bundle is verified and stored, the ledger not yet told (no `staged` recorded).
    case scanVerifiedBeforeRecord = "scan.verified.before-record"
    /// A reconcile (start, rescan, SIGHUP) read the kernel, the ledger not yet brought in line.
    case reconcileAfterRead = "reconcile.after-read"

    public static let environmentVariable = "LIVEPATCHD_FAILPOINT"
    public static let traceVariable = "LIVEPATCHD_FAILPOINT_TRACE"

    /// Counts this point's hit and, when it is the armed one and its turn has come, kills the process.
    @inline(__always)
    public func hit() {
        guard let armed = Self.armed else { return }
        armed.hit(self)
    }

    /// Whether crash injection or tracing is on; wiring that costs anything (a wrapper around
    /// the backend) is only done then.
    public static var isActive: Bool { armed != nil }

    private static let armed: Armed? = Armed()
}

/// The armed configuration: which point dies at which hit, and where hits are traced.
private final class Armed: Sendable {
    let target: Failpoint?
    let nth: Int
    let traceDescriptor: Int32
    private let hits = Mutex<[Failpoint: Int]>([:])

    init?() {
        let spec = getenv(Failpoint.environmentVariable).map { String(cString: $0) } ?? ""
        let trace = getenv(Failpoint.traceVariable).map { String(cString: $0) } ?? ""
        guard !spec.isEmpty || !trace.isEmpty else { return nil }
        if spec.isEmpty {
            target = nil
            nth = 0
        } else {
            let parts = spec.split(separator: ":", maxSplits: 1).map(String.init)
            guard let point = Failpoint(rawValue: parts[0]), let nth = parts.count == 2 ? Int(parts[1]) : 1, nth >= 1 else {
                let known = Failpoint.allCases.map(\.rawValue).joined(separator: ", ")
                Self.die("livepatchd: \(Failpoint.environmentVariable)=\(spec) is not <point>[:<n>] with a known point (\(known))\n")
            }
            target = point
            self.nth = nth
        }
        traceDescriptor = trace.isEmpty ? -1 : open(trace, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
    }

    func hit(_ point: Failpoint) {
        let count = hits.withLock { hits in
            hits[point, default: 0] += 1
            return hits[point, default: 0]
        }
        let fatal = point == target && count == nth
        if traceDescriptor >= 0 {
            let line = "\(point.rawValue) \(count)\(fatal ? " kill" : "")\n"
            _ = line.withCString { write(traceDescriptor, $0, strlen($0)) }
        }
        if fatal { raise(SIGKILL) }
    }

    private static func die(_ message: String) -> Never {
        _ = message.withCString { write(STDERR_FILENO, $0, strlen($0)) }
        exit(78)
    }
}
