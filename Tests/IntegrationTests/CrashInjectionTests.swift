import Foundation
import LivepatchAPI
import Testing

/// kill -9 of livepatchd at every failpoint an operation passes, and at random moments: after a
/// restart the reported state equals the kernel's, every desired patch is applied, no module is
/// loaded twice, the state file is whole and the history intact.
///
/// `LIVEPATCHD_CRASH_TRIALS` (default 200; `make crash TRIALS=2000`) is the total over the six
/// tests: each runs every failpoint trial of its operations, then random-delay trials up to its
/// sixth. The tests run in parallel.
@Suite("Crash injection", .timeLimit(.minutes(30)))
struct CrashInjectionTests {
    static let totalTrials = ProcessInfo.processInfo.environment["LIVEPATCHD_CRASH_TRIALS"].flatMap(Int.init) ?? 200
    static var share: Int { max(1, (totalTrials + 5) / 6) }

    @Test("apply: a dropped bundle and lpclient apply, killed at each failpoint and at random")
    func apply() async throws { try await run("apply", [.applyDrop, .applyClient]) }

    @Test("apply past transition_timeout: rolled back, or forced, killed at each failpoint and at random")
    func applyTimeout() async throws { try await run("apply timeout", [.timeout(force: false), .timeout(force: true)]) }

    @Test("revert: lpclient revert, killed at each failpoint and at random")
    func revert() async throws { try await run("revert", [.revert]) }

    @Test("replace: a cumulative patch over two patches and a foreign one, killed at each failpoint and at random")
    func replace() async throws { try await run("replace", [.replace]) }

    @Test("rescan: lpclient rescan and SIGHUP after the kernel changed, killed at each failpoint and at random")
    func rescan() async throws {
        try await run("rescan", [.rescan(.lpclient(["rescan"]), how: "lpclient rescan"), .rescan(.hangup, how: "SIGHUP")])
    }

    @Test("random timing: SIGKILL after a random delay during every operation")
    func randomTiming() async throws { try await run("random timing", CrashScenario.all, systematic: false) }

    /// Every failpoint hit of each scenario's unarmed run (when `systematic`), then random delays
    /// round-robin over the scenarios until the test's share of trials is reached.
    private func run(_ label: String, _ scenarios: [CrashScenario], systematic: Bool = true) async throws {
        let clock = ContinuousClock()
        let started = clock.now
        var benches: [CrashBench] = []
        for scenario in scenarios { benches.append(try await CrashBench(scenario)) }
        var plan: [(CrashBench, CrashKill)] = []
        if systematic {
            for bench in benches { plan += bench.hits.map { (bench, CrashKill.failpoint($0.point, $0.nth)) } }
        }
        var generator = SystemRandomNumberGenerator()
        var index = 0
        while plan.count < Self.share {
            let bench = benches[index % benches.count]
            let range = max(1, Int(bench.baselineDuration.milliseconds) * 3 / 2)
            plan.append((bench, .after(.milliseconds(Int.random(in: 0...range, using: &generator)))))
            index += 1
        }

        var violations: [String] = []
        var points: Set<String> = []
        var missed = 0
        var random = 0
        for (number, (bench, kill)) in plan.enumerated() {
            let result = try await bench.runTrial(kill)
            switch kill {
            case .failpoint(let point, _): points.insert(point)
            case .after: random += 1
            }
            if result.missed { missed += 1 }
            if !result.problems.isEmpty {
                let kept = bench.keep("\(label)-\(number)")
                violations.append(
                    "trial \(number) [\(bench.scenario.name)] \(kill):\n  - \(result.problems.joined(separator: "\n  - "))\n  sandbox kept in \(kept)")
            }
        }
        let elapsed = clock.now - started
        print(
            "crash injection (\(label)): \(plan.count) trials, \(violations.count) invariant violations; \(plan.count - random) at failpoints (\(missed) not reached), \(random) at random delays; \(Int(elapsed.milliseconds)) ms"
        )
        if systematic { print("crash injection (\(label)): failpoints covered: \(points.sorted().joined(separator: ", "))") }
        #expect(violations.isEmpty, "\(violations.count) of \(plan.count) trials broke an invariant:\n\(violations.prefix(10).joined(separator: "\n"))")
    }
}
