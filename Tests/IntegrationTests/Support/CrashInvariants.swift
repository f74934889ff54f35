import Foundation
import LivepatchAPI
import LivepatchCore
import LivepatchDaemon

/// What must hold after any crash and a restart, each violation a line naming what was
/// expected and what was seen.
struct CrashInvariants {
    /// The kernel and the history just before the trigger, for loads and history; nil for the
    /// unarmed run, which only waits for the expected states.
    struct Before {
        var loaded: Set<String>
        var loadCount: Int
        var history: [HistoryEntry]
    }

    let bench: CrashBench
    let before: Before?

    init(bench: CrashBench, before: Before?) {
        self.bench = bench
        self.before = before
    }

    /// The state as it is on disk (`state.json` and the changes after it), read the way the
    /// daemon reads it at start; a torn or unreadable file is a violation by itself.
    static func readState(_ bench: CrashBench) -> Result<PatchLedger?, TimeoutError> {
        var file = StateFile(stateDirectory: bench.sandbox.state)
        guard FileManager.default.fileExists(atPath: file.path) else { return .success(nil) }
        do {
            return .success(try file.load())
        } catch {
            return .failure(TimeoutError(description: "the state does not load: \(error)"))
        }
    }

    /// Every problem seen now; empty when the daemon, the kernel and the disk agree with the scenario.
    func check(acknowledged: Bool) throws -> [String] {
        var problems: [String] = []
        let patches = Dictionary(try bench.sandbox.patches().map { ($0.name, $0) }, uniquingKeysWith: { $1 })
        let modules = try bench.kernel.modules()

        // Reported state equals the kernel's truth.
        for patch in patches.values.sorted(by: { $0.name < $1.name }) {
            let module = modules[patch.name]
            let ours = !patch.sha256.isEmpty
            switch patch.state {
            case .applied, .foreign:
                if module?.registered != true || module?.enabled != true || module?.inTransition == true {
                    problems.append("\(patch.name): reported \(patch.state.rawValue), the kernel has \(describe(module))")
                }
            case .applying, .reverting, .pending:
                problems.append("\(patch.name): still \(patch.state.rawValue) (\(patch.reason ?? "")), the kernel has \(describe(module))")
            case .rejected:
                problems.append("\(patch.name): rejected: \(patch.reason ?? "")")
            case .staged, .reverted, .superseded, .failed, .halted, .quarantined:
                if module?.registered == true {
                    problems.append("\(patch.name): reported \(patch.state.rawValue), the kernel has it registered: \(describe(module))")
                } else if ours, let module {
                    problems.append("\(patch.name): reported \(patch.state.rawValue), its module is left loaded: \(describe(module))")
                }
            }
            if ours && patch.desired != (patch.state == .applied) {
                problems.append("\(patch.name): \(patch.state.rawValue) but desired is \(patch.desired)")
            }
        }
        for module in modules.values where module.registered && patches[module.name] == nil {
            problems.append("\(module.name): registered in the kernel, not reported by the daemon")
        }
        if bench.kernel.unfinishedCommit { problems.append("the simulated kernel has an unfinished commit") }
        // No litter: temporary files a killed writer left are gone once the daemon is back.
        let leftovers = temporaryFiles(under: bench.sandbox.state)
        if !leftovers.isEmpty { problems.append("temporary files left in the state directory: \(leftovers)") }

        // Every patch where the scenario says, and nothing else.
        let expected = bench.scenario.expected(acknowledged)
        for (name, states) in expected.sorted(by: { $0.key < $1.key }) where !(patches[name].map { states.contains($0.state) } ?? false) {
            let allowed = states.map(\.rawValue).sorted().joined(separator: " or ")
            let seen = patches[name].map { "\($0.state.rawValue)\($0.reason.map { " (\($0))" } ?? "")" } ?? "not listed"
            problems.append("\(name): expected \(allowed), seen \(seen)")
        }
        for name in patches.keys.sorted() where expected[name] == nil {
            problems.append("\(name): listed as \(patches[name]!.state.rawValue), expected not listed")
        }

        guard let before else { return problems }
        // No module loaded twice: a patch loaded at the trigger is never loaded again, any other at most once.
        let loads = Dictionary(bench.kernel.loadLog.dropFirst(before.loadCount).map { ($0, 1) }, uniquingKeysWith: +)
        for (name, count) in loads.sorted(by: { $0.key < $1.key }) where count > 1 || before.loaded.contains(name) {
            problems.append("\(name): loaded \(count) time(s) since the trigger\(before.loaded.contains(name) ? ", although it was loaded already" : "")")
        }
        for patch in patches.values where patch.state == .applied && !before.loaded.contains(patch.name) && loads[patch.name] != 1 {
            problems.append("\(patch.name): applied with \(loads[patch.name] ?? 0) loads since the trigger, expected 1")
        }
        // History intact: what was there before is still there, in order.
        let history = try bench.sandbox.call(.getHistory, as: HistoryReply.self).entries
        if !history.starts(with: before.history) {
            problems.append("history lost: \(before.history.count) entries before the trigger are not the start of the \(history.count) now")
        }
        return problems
    }

    private func describe(_ module: SimulatedKernelFiles.Module?) -> String {
        guard let module else { return "no such module" }
        return "module loaded, \(module.registered ? "registered" : "not registered"), enabled \(module.enabled)\(module.inTransition ? ", in transition" : "")"
    }
}
