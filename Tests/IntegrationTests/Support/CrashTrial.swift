import Foundation
import LivepatchAPI

/// How a trial's daemon dies.
enum CrashKill: CustomStringConvertible {
    /// `LIVEPATCHD_FAILPOINT=<point>:<nth>`: the daemon kills itself there.
    case failpoint(String, Int)
    /// The harness sends SIGKILL this long after the trigger.
    case after(Duration)

    var description: String {
        switch self {
        case .failpoint(let point, let nth): "failpoint \(point):\(nth)"
        case .after(let delay): "SIGKILL \(Int(delay.milliseconds)) ms after the trigger"
        }
    }
}

/// What one trial found.
struct CrashTrialResult {
    var problems: [String] = []
    /// The armed daemon never reached its failpoint (killed by the harness instead).
    var missed = false
}

extension CrashBench {
    /// Restore, start the daemon armed, trigger, let it die, restart it unarmed, check.
    func runTrial(_ how: CrashKill) async throws -> CrashTrialResult {
        var result = CrashTrialResult()
        try restore()
        guard case .success(let snapshotState?) = CrashInvariants.readState(self) else {
            throw TimeoutError(description: "the snapshot's state file does not parse")
        }
        var environment: [String: String?] = ["LIVEPATCHD_FAILPOINT_TRACE": trace]
        if case .failpoint(let point, let nth) = how { environment["LIVEPATCHD_FAILPOINT"] = "\(point):\(nth)" }

        let (daemon, ready) = try await launch(environment)
        var client: LaunchedProcess?
        // The kernel at the trigger: what is loaded then must never be loaded again.
        var loaded: Set<String> = []
        var loadCount = 0
        if ready && daemon.isRunning {
            try scenario.beforeTrigger(self)
            (loaded, loadCount) = try kernelAtTrigger()
            client = try startTrigger(daemon)
            if case .after(let delay) = how {
                try await Task.sleep(for: delay)
                daemon.send(SIGKILL)
            }
        } else {
            try triggerWithoutDaemon()
            (loaded, loadCount) = try kernelAtTrigger()
        }
        let deadline: Duration = if case .failpoint = how { baselineDuration + .seconds(2) } else { .seconds(10) }
        if await daemon.waitForExit(timeout: deadline) == nil {
            result.missed = true
            daemon.send(SIGKILL)
            _ = await daemon.waitForExit(timeout: .seconds(10))
        }
        if daemon.process.terminationReason != .uncaughtSignal || daemon.process.terminationStatus != SIGKILL {
            result.problems.append("the daemon exited with status \(daemon.process.terminationStatus), not by SIGKILL")
        } else if case .failpoint = how, !result.missed, !traceShowsKill {
            result.problems.append("the daemon died of SIGKILL without its failpoint saying so")
        }
        var acknowledged = false
        if let client { acknowledged = await client.waitForExit(timeout: .seconds(30)) == 0 }

        // Never torn: the state file parses right after the crash, with the history it had.
        var historyBefore = snapshotState.history
        switch CrashInvariants.readState(self) {
        case .failure(let torn): result.problems.append("after the crash: \(torn.description)")
        case .success(nil): result.problems.append("after the crash: state.json is gone")
        case .success(let state?):
            if !state.history.starts(with: historyBefore) { result.problems.append("after the crash: history entries lost on disk") }
            historyBefore = state.history
        }

        let (recovered, recoveredReady) = try await launch([:])
        defer {
            recovered.send(SIGKILL)
            recovered.process.waitUntilExit()
        }
        guard recoveredReady else {
            result.problems.append("the restarted daemon never said READY=1 (exit status \(recovered.process.terminationStatus))")
            return result
        }
        if !acknowledged, client != nil, let retry = scenario.retry {
            // The operator saw the request fail and asks again, once the daemon has settled.
            _ = try? await eventually("no transition running", timeout: .seconds(10)) {
                let busy = try sandbox.patches().filter { $0.state.isInTransition }.map(\.name)
                return (busy.isEmpty, busy)
            }
            let again = try lpclient(retry)
            let status = await again.waitForExit(timeout: .seconds(30))
            if status == 0 {
                acknowledged = true
            } else {
                result.problems.append(
                    "the operator's retry lpclient \(retry.joined(separator: " ")) \(Self.said(status)): \(again.log.suffix(300))"
                        + Self.unanswered(status, daemon: recovered))
            }
        }
        let invariants = CrashInvariants(bench: self, before: .init(loaded: loaded, loadCount: loadCount, history: historyBefore))
        do {
            _ = try await eventually("the invariants to hold", timeout: .seconds(8), every: .milliseconds(10)) {
                let problems = try invariants.check(acknowledged: acknowledged)
                return (problems.isEmpty, problems)
            }
        } catch {
            result.problems += (try? invariants.check(acknowledged: acknowledged)) ?? ["\(error)"]
        }
        if case .success(nil) = CrashInvariants.readState(self) { result.problems.append("no state file after the restart") }
        if case .failure(let torn) = CrashInvariants.readState(self) { result.problems.append("after the restart: \(torn.description)") }
        return result
    }

    private func kernelAtTrigger() throws -> (Set<String>, Int) {
        (Set(try kernel.modules().keys), kernel.loadLog.count)
    }

    private var traceShowsKill: Bool {
        ((try? String(contentsOfFile: trace, encoding: .utf8)) ?? "").split(separator: "\n").contains { $0.hasSuffix(" kill") }
    }
}

