import Foundation
import LivepatchAPI

/// One scenario's sandbox for crash trials: the state before the operation is kept as a
/// snapshot (kernel, state directory, patch directory) and put back before every trial, at the
/// same paths, so the stored module paths in the state file stay valid.
final class CrashBench: @unchecked Sendable {
    let scenario: CrashScenario
    let sandbox: Sandbox
    let kernel: SimulatedKernelFiles
    private var bundles: [String: BundleFiles] = [:]
    /// Failpoint hits of one unarmed run of the operation, in order: one trial each.
    private(set) var hits: [(point: String, nth: Int)] = []
    /// Trigger until every expectation held, unarmed: the range for random kill delays.
    private(set) var baselineDuration: Duration = .zero

    private var snapshot: String { "\(sandbox.root)/snapshot" }
    var trialLog: String { "\(sandbox.root)/trial.log" }
    var trace: String { "\(sandbox.root)/trace" }
    private static let restored = ["kernel", "state", "incoming"]

    init(_ scenario: CrashScenario) async throws {
        self.scenario = scenario
        sandbox = try Sandbox(scenario.settings)
        kernel = SimulatedKernelFiles(root: sandbox.kernel)
        // Short transitions keep a trial well under a second; the crash windows stay the same.
        try sandbox.inject("transition-delay", "0.02")
        for spec in scenario.bundles {
            bundles[spec.name] = try sandbox.bundle(spec.name, functions: spec.functions, replace: spec.replace)
        }
        try await scenario.prepare(self)
        try FileManager.default.createDirectory(atPath: snapshot, withIntermediateDirectories: true)
        for directory in Self.restored {
            try FileManager.default.copyItem(atPath: "\(sandbox.root)/\(directory)", toPath: "\(snapshot)/\(directory)")
        }
        try await measureBaseline()
    }

    /// Copies a bundle into the patch directory the way a careful deployment tool does: each file
    /// under a hidden name, renamed into place, the manifest last.
    func drop(_ name: String) throws {
        guard let bundle = bundles[name] else { throw TimeoutError(description: "no bundle \(name)") }
        for file in [bundle.module, bundle.signature, bundle.manifest] {
            let base = URL(fileURLWithPath: file).lastPathComponent
            let hidden = "\(sandbox.incoming)/.arriving-\(base)"
            try? FileManager.default.removeItem(atPath: hidden)
            try FileManager.default.copyItem(atPath: file, toPath: hidden)
            guard rename(hidden, "\(sandbox.incoming)/\(base)") == 0 else {
                throw TimeoutError(description: "rename \(hidden): errno \(errno)")
            }
        }
    }

    func restore() throws {
        for directory in Self.restored {
            try? FileManager.default.removeItem(atPath: "\(sandbox.root)/\(directory)")
            try FileManager.default.copyItem(atPath: "\(snapshot)/\(directory)", toPath: "\(sandbox.root)/\(directory)")
        }
        try? FileManager.default.removeItem(atPath: trace)
        try Data().write(to: URL(fileURLWithPath: trialLog))
    }

    // MARK: - Daemons

    /// Starts livepatchd with `environment` changes; returns once it said READY=1 (true) or died (false).
    func launch(_ environment: [String: String?]) async throws -> (LaunchedProcess, ready: Bool) {
        let before = sandbox.notify.received.count
        // Every save after the first as a change file (not the whole state.json a handful of
        // patches would get): the kill lands in the middle of that path too.
        var changes: [String: String?] = ["LIVEPATCHD_STATE_WHOLE_BELOW": "0"].merging(environment) { _, given in given }
        for name in ["LIVEPATCHD_FAILPOINT", "LIVEPATCHD_FAILPOINT_TRACE"] where changes[name] == nil {
            changes[name] = .some(nil)
        }
        let daemon = try LaunchedProcess(
            [Binaries.path("livepatchd"), "--config", sandbox.configFile], environment: sandbox.daemonEnvironment(changes),
            logFile: trialLog)
        let ready = try await eventually("READY=1 or an exit", timeout: .seconds(30), every: .milliseconds(5)) {
            let ready = sandbox.notify.received.dropFirst(before).contains { $0.split(separator: "\n").contains("READY=1") }
            return (ready || !daemon.isRunning, ready)
        }
        return (daemon, ready)
    }

    /// Runs the trigger against a live daemon (after ``CrashScenario/beforeTrigger``); `nil` when
    /// there is no reply to wait for.
    func startTrigger(_ daemon: LaunchedProcess) throws -> LaunchedProcess? {
        switch scenario.trigger {
        case .drop(let name):
            try drop(name)
            return nil
        case .lpclient(let arguments):
            return try lpclient(arguments)
        case .hangup:
            daemon.send(SIGHUP)
            return nil
        }
    }

    /// The part of the trigger that happens while no daemon runs: files still arrive, the kernel
    /// still changes; requests cannot be made.
    func triggerWithoutDaemon() throws {
        try scenario.beforeTrigger(self)
        if case .drop(let name) = scenario.trigger { try drop(name) }
    }

    func lpclient(_ arguments: [String]) throws -> LaunchedProcess {
        try LaunchedProcess(
            [Binaries.path("lpclient")] + arguments + ["--socket", sandbox.socket],
            environment: ProcessInfo.processInfo.environment, logFile: "\(sandbox.root)/lpclient.log")
    }

    // MARK: - The unarmed run

    /// Runs the operation once with every failpoint traced: the hits are the systematic trials.
    private func measureBaseline() async throws {
        try restore()
        let (daemon, ready) = try await launch(["LIVEPATCHD_FAILPOINT_TRACE": trace])
        guard ready else { throw TimeoutError(description: "the unarmed daemon died:\n\(sandbox.log)") }
        let clock = ContinuousClock()
        let started = clock.now
        try scenario.beforeTrigger(self)
        let client = try startTrigger(daemon)
        if let client {
            let status = await client.waitForExit(timeout: .seconds(30))
            if status != 0 {
                throw TimeoutError(description: "\(scenario.trigger) failed unarmed (lpclient \(Self.said(status))): \(client.log)"
                    + Self.unanswered(status, daemon: daemon))
            }
        }
        _ = try await eventually("the operation to complete unarmed", timeout: .seconds(30), every: .milliseconds(5)) {
            let problems = try CrashInvariants(bench: self, before: nil).check(acknowledged: true)
            return (problems.isEmpty, problems)
        }
        baselineDuration = clock.now - started
        // A moment for what follows the operation (unloading leftovers, the last save).
        try await Task.sleep(for: .milliseconds(100))
        daemon.send(SIGKILL)
        _ = await daemon.waitForExit(timeout: .seconds(10))
        let lines = ((try? String(contentsOfFile: trace, encoding: .utf8)) ?? "").split(separator: "\n")
        hits = lines.compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count >= 2, let nth = Int(fields[1]) else { return nil }
            return (String(fields[0]), nth)
        }
    }

    // MARK: - Keeping a failed trial

    /// Copies the sandbox (kernel, state, patch directory, logs, trace) where it survives the test.
    func keep(_ label: String) -> String {
        let safe = label.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." ? $0 : "_" }
        let target = FileManager.default.temporaryDirectory.appendingPathComponent("livepatchd-crash-kept")
            .appendingPathComponent(String(safe)).path
        try? FileManager.default.removeItem(atPath: target)
        try? FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        for item in Self.restored + ["trial.log", "trace", "lpclient.log", "livepatchd.toml"] {
            try? FileManager.default.copyItem(atPath: "\(sandbox.root)/\(item)", toPath: "\(target)/\(item)")
        }
        return target
    }
}

extension CrashBench {
    /// How an lpclient ended, for a problem's text.
    static func said(_ status: Int32?) -> String {
        status.map { "exited \($0)" } ?? "had no answer within 30 s"
    }

    /// For a client left without an answer: every thread of the daemon it waited on, so the
    /// report tells a stuck daemon from a reply that went missing.
    static func unanswered(_ status: Int32?, daemon: LaunchedProcess) -> String {
        status == nil && daemon.process.isRunning ? "\n" + ThreadReport.of(pid: daemon.process.processIdentifier) : ""
    }
}
